DROP INDEX IF EXISTS user_memories_team_key;
DROP INDEX IF EXISTS user_memories_user_key;
-- Team memories have no place in the older shape.
DELETE FROM user_memories WHERE scope = 'team';
ALTER TABLE user_memories
    DROP CONSTRAINT IF EXISTS user_memories_team_scope_check,
    DROP COLUMN IF EXISTS token_count,
    DROP COLUMN IF EXISTS source_ref,
    DROP COLUMN IF EXISTS source,
    DROP COLUMN IF EXISTS team_id,
    DROP COLUMN IF EXISTS scope;
ALTER TABLE user_memories
    ADD CONSTRAINT user_memories_user_id_memory_key_key UNIQUE (user_id, memory_key);

DROP INDEX IF EXISTS conversation_messages_live_idx;

DROP INDEX IF EXISTS conversations_workflow_idx;
ALTER TABLE conversations
    DROP COLUMN IF EXISTS summary_claimed_until,
    DROP COLUMN IF EXISTS summary_claim,
    DROP COLUMN IF EXISTS summary_tokens,
    DROP COLUMN IF EXISTS summary_message_id,
    DROP COLUMN IF EXISTS output_tokens,
    DROP COLUMN IF EXISTS input_tokens,
    DROP COLUMN IF EXISTS team_id,
    DROP COLUMN IF EXISTS workflow_id;
