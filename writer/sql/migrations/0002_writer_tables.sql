-- The writer's own tables: the intent log (exactly-once effect), the render-pending state of a
-- revision, and the dead letters the broker gave up on.

CREATE TABLE intent_log (
    intent_id     UUID PRIMARY KEY,
    -- The apply order; an overwritten (replayed) row takes a new one.
    seq           BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    partition     INT,
    namespace     TEXT,
    name          TEXT,
    revision_name TEXT,
    kind          TEXT,
    producer_user TEXT,
    producer_role TEXT,
    status        TEXT NOT NULL,
    reason        TEXT,
    message       TEXT,
    version       BIGINT,
    outcome       TEXT NOT NULL,
    body_digest   TEXT NOT NULL,
    received_at   TIMESTAMPTZ,
    recorded_at   TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);

CREATE INDEX intent_log_namespace_seq_idx ON intent_log (namespace, seq);

CREATE TABLE revision_render_state (
    k8s_name_space  TEXT NOT NULL,
    k8s_name        TEXT NOT NULL,
    pending_version BIGINT NOT NULL,
    PRIMARY KEY (k8s_name_space, k8s_name),
    CONSTRAINT fk_package_revision FOREIGN KEY (k8s_name_space, k8s_name)
        REFERENCES package_revisions (k8s_name_space, k8s_name) ON DELETE CASCADE
);

CREATE TABLE dead_letters (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    log_id           UUID NOT NULL,
    intent_id        UUID,
    queue            TEXT,
    partition        INT,
    kind             TEXT,
    reason           TEXT NOT NULL,
    death_count      INT,
    properties       JSONB NOT NULL,
    headers          JSONB NOT NULL,
    body             BYTEA NOT NULL,
    dead_lettered_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    replayed_at      TIMESTAMPTZ
);

CREATE INDEX dead_letters_pending_idx ON dead_letters (id) WHERE replayed_at IS NULL;
