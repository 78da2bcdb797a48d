-- The full-text index of published programs and episodes (package services/search/index).
--
-- tsv holds the words of the title (weight A), summary (B) and tags (C), normalised in Go and
-- analysed with the text search configuration of the document's language (ts_config), plus
-- the normalised words themselves, unstemmed, with weight D, for prefix matching of the last
-- query word. tsv_title holds the normalised title words for suggestions. No extension is
-- needed.
CREATE TABLE search_documents (
    id               TEXT COLLATE "C" PRIMARY KEY, -- byte order, like bleve's _id sort
    doc_type         TEXT NOT NULL CHECK (doc_type IN ('program', 'episode')),
    program_id       TEXT NOT NULL DEFAULT '',
    kind             TEXT NOT NULL DEFAULT '',
    language         TEXT NOT NULL,
    category         TEXT NOT NULL DEFAULT '',
    duration_seconds INTEGER CHECK (duration_seconds > 0), -- NULL: a program, or unknown
    published_at     TIMESTAMPTZ NOT NULL,
    popularity       DOUBLE PRECISION NOT NULL DEFAULT 0,
    version          BIGINT NOT NULL,
    ts_config        TEXT NOT NULL CHECK (ts_config IN ('arabic', 'english', 'simple')),
    title_norm       TEXT NOT NULL,
    tsv              TSVECTOR NOT NULL,
    tsv_title        TSVECTOR NOT NULL,
    doc              TEXT NOT NULL -- the document as JSON, returned by searches
);

CREATE INDEX search_documents_tsv ON search_documents USING GIN (tsv);
CREATE INDEX search_documents_tsv_title ON search_documents USING GIN (tsv_title);
CREATE INDEX search_documents_latest ON search_documents (published_at DESC, id);
CREATE INDEX search_documents_program ON search_documents (program_id) WHERE program_id <> '';
