-- One full-text index per text search configuration instead of one over every row (issue 18, the
-- 1M-episode benchmark). A search tries the tsquery of each configuration on the rows of that
-- configuration ((ts_config = 'english' AND tsv @@ q.english) OR ...); with one index over every
-- row, each of the three branches walked the whole posting lists of the query's lexemes (a Latin
-- word is the same lexeme in the three configurations), and the rows of the other configurations
-- were thrown away after the heap was read. A partial index per configuration holds only that
-- configuration's rows: EXPLAIN ANALYZE of a common two-word English query over 1,010,000 rows, the
-- bitmap index scans 440 ms -> 91 ms, and nothing read for the other two.
CREATE INDEX search_documents_tsv_arabic ON search_documents USING GIN (tsv) WHERE ts_config = 'arabic';
CREATE INDEX search_documents_tsv_english ON search_documents USING GIN (tsv) WHERE ts_config = 'english';
CREATE INDEX search_documents_tsv_simple ON search_documents USING GIN (tsv) WHERE ts_config = 'simple';
DROP INDEX search_documents_tsv;
