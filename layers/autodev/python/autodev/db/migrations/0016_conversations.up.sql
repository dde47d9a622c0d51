-- The conversation manager (autodev.conversations): what the core tables lacked.

-- A conversation is a Slack thread: the workflow started in it and the Slack team it is in
-- (team memories), the tokens its model calls consumed, its current summary, and the claim
-- that lets exactly one process summarise it at a time (taken under SELECT ... FOR UPDATE of
-- this row; the model is called after the claim commits, so no lock is held across it).
ALTER TABLE conversations
    ADD COLUMN workflow_id          text,
    ADD COLUMN team_id              text,
    ADD COLUMN input_tokens         bigint NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
    ADD COLUMN output_tokens        bigint NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
    ADD COLUMN summary_message_id   bigint,
    ADD COLUMN summary_tokens       integer NOT NULL DEFAULT 0 CHECK (summary_tokens >= 0),
    ADD COLUMN summary_claim        text,
    ADD COLUMN summary_claimed_until timestamptz;
CREATE INDEX conversations_workflow_idx ON conversations (workflow_id)
    WHERE workflow_id IS NOT NULL;

-- The context reads the newest messages not yet folded into a summary, and the summariser
-- the oldest of them: both walk this index, never the summarised history.
CREATE INDEX conversation_messages_live_idx ON conversation_messages (conversation_id, id)
    WHERE NOT summarized;

-- Memories belong to a user or to a Slack team (then user_id is who added it), carry where
-- they came from, and their token count (counted when stored, used by the context budget).
ALTER TABLE user_memories
    ADD COLUMN scope       text NOT NULL DEFAULT 'user' CHECK (scope IN ('user', 'team')),
    ADD COLUMN team_id     text,
    ADD COLUMN source      text NOT NULL DEFAULT 'request'
                           CHECK (source IN ('request', 'conversation', 'workflow')),
    ADD COLUMN source_ref  text,
    ADD COLUMN token_count integer NOT NULL DEFAULT 0 CHECK (token_count >= 0),
    ADD CONSTRAINT user_memories_team_scope_check CHECK (scope = 'user' OR team_id IS NOT NULL);
-- Deduplication: one memory per normalised key for a user, and one for a team.
ALTER TABLE user_memories DROP CONSTRAINT user_memories_user_id_memory_key_key;
CREATE UNIQUE INDEX user_memories_user_key ON user_memories (user_id, memory_key)
    WHERE scope = 'user';
CREATE UNIQUE INDEX user_memories_team_key ON user_memories (team_id, memory_key)
    WHERE scope = 'team';
