DROP TABLE IF EXISTS workflow_repositories;
DROP TABLE IF EXISTS repositories;
