DROP TABLE IF EXISTS salesforce_orgs;
