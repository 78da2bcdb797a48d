-- The Arabic text now reaches the `arabic` configuration as the light stems that the other engines
-- index (see languageWord in lexicon.go), so the tsvectors written before no longer meet the
-- queries. The index is derived data: this empties it, and the search service refills it from its
-- own tables when it starts on an empty index (search.Service.LoadIndex).
DELETE FROM search_documents;
