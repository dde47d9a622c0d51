-- Repositories registered by name (autodev repo add), and the repository each workflow works
-- on: its branch, what was pushed to it, and the pull request opened at the end. Only the ARN of
-- a repository's credentials secret is kept, never a token.
CREATE TABLE repositories (
    name                    text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
    url                     text NOT NULL,
    default_branch          text NOT NULL DEFAULT 'main',
    credentials_secret_arn  text,
    provider                text NOT NULL CHECK (provider IN ('github', 'gitlab', 'local')),
    api_url                 text,
    project                 text NOT NULL,
    is_default              boolean NOT NULL DEFAULT false,
    added_by                text NOT NULL,
    added_at                timestamptz NOT NULL DEFAULT now()
);
-- At most one default repository.
CREATE UNIQUE INDEX repositories_one_default_idx ON repositories (is_default) WHERE is_default;

-- The repository a workflow works on, as it was registered when the workflow started (a later
-- change or removal of the registration does not move a running workflow).
CREATE TABLE workflow_repositories (
    workflow_id             uuid PRIMARY KEY REFERENCES workflows (id) ON DELETE CASCADE,
    repository              text NOT NULL,
    url                     text NOT NULL,
    credentials_secret_arn  text,
    provider                text NOT NULL,
    api_url                 text,
    project                 text NOT NULL,
    ref                     text NOT NULL,
    base_branch             text NOT NULL,
    base_commit             text NOT NULL,
    branch                  text NOT NULL CHECK (branch LIKE 'autodev/%'),
    template                text NOT NULL,
    requested_by            text NOT NULL,
    head_commit             text,
    pushed_at               timestamptz,
    conflicts               jsonb NOT NULL DEFAULT '[]'::jsonb,
    pull_request_url        text,
    pull_request_number     integer,
    pull_request_error      text,
    created_at              timestamptz NOT NULL DEFAULT now()
);
