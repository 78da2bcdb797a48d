-- One database per MediaMesh service. The postgres image runs the files in
-- /docker-entrypoint-initdb.d once, as POSTGRES_USER, when its data directory is empty
-- (docker compose down -v starts over). Service <name> uses mediamesh_<name>.
CREATE DATABASE mediamesh_auth;
CREATE DATABASE mediamesh_cms;
CREATE DATABASE mediamesh_metadata;
CREATE DATABASE mediamesh_media;
CREATE DATABASE mediamesh_ingest;
CREATE DATABASE mediamesh_discovery;
CREATE DATABASE mediamesh_search;
