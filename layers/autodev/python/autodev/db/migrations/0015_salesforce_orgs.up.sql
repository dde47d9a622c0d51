-- Salesforce orgs registered by name (autodev org add): the workflows' target_org. Only the ARN
-- of the secret holding the org's SFDX auth URL is kept, never the URL.
CREATE TABLE salesforce_orgs (
    name             text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_.@-]{1,80}$'),
    auth_url_secret  text NOT NULL,
    added_by         text NOT NULL,
    added_at         timestamptz NOT NULL DEFAULT now()
);
