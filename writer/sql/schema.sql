-- The whole current schema of the writer's database. The numbered files in migrations/ must
-- produce exactly this (tests/integration/test_writer_migrations.py compares the catalogs);
-- change both together.

CREATE TABLE schema_migrations (
    version    INT PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE repositories (
    k8s_name_space  TEXT NOT NULL CHECK (k8s_name_space <> ''),
    k8s_name        TEXT NOT NULL CHECK (k8s_name <> ''),
    directory       TEXT NOT NULL,
    default_ws_name TEXT NOT NULL,
    meta            TEXT NOT NULL,
    spec            TEXT NOT NULL,
    updated         TIMESTAMPTZ,
    updatedby       TEXT,
    deployment      BOOLEAN,
    PRIMARY KEY (k8s_name_space, k8s_name)
);

CREATE TABLE packages (
    k8s_name_space TEXT NOT NULL CHECK (k8s_name_space <> ''),
    k8s_name       TEXT NOT NULL CHECK (k8s_name <> ''),
    repo_k8s_name  TEXT NOT NULL,
    package_path   TEXT NOT NULL,
    meta           TEXT NOT NULL,
    spec           TEXT NOT NULL,
    updated        TIMESTAMPTZ NOT NULL,
    updatedby      TEXT NOT NULL,
    PRIMARY KEY (k8s_name_space, k8s_name),
    CONSTRAINT fk_repository FOREIGN KEY (k8s_name_space, repo_k8s_name)
        REFERENCES repositories (k8s_name_space, k8s_name) ON DELETE CASCADE
);

CREATE INDEX packages_repository_idx ON packages (k8s_name_space, repo_k8s_name);

CREATE TABLE package_revisions (
    k8s_name_space         TEXT NOT NULL CHECK (k8s_name_space <> ''),
    k8s_name               TEXT NOT NULL CHECK (k8s_name <> ''),
    package_k8s_name       TEXT NOT NULL,
    revision               INTEGER NOT NULL,
    meta                   TEXT NOT NULL,
    spec                   TEXT NOT NULL,
    updated                TIMESTAMPTZ NOT NULL,
    updatedby              TEXT NOT NULL,
    lifecycle              TEXT NOT NULL
        CHECK (lifecycle IN ('Draft', 'Proposed', 'Published', 'DeletionProposed')),
    ext_pr_id              TEXT NOT NULL,
    latest                 BOOLEAN NOT NULL DEFAULT FALSE,
    tasks                  TEXT NOT NULL,
    kptfile_status         TEXT NOT NULL DEFAULT '{}',
    resources_size         BIGINT NOT NULL DEFAULT 0,
    upstream_ref_name      TEXT NOT NULL DEFAULT '',
    last_pushed_db_updated TIMESTAMPTZ,
    render_status          TEXT,
    PRIMARY KEY (k8s_name_space, k8s_name),
    CONSTRAINT fk_package FOREIGN KEY (k8s_name_space, package_k8s_name)
        REFERENCES packages (k8s_name_space, k8s_name) ON DELETE CASCADE
);

CREATE INDEX package_revisions_package_revision_idx
    ON package_revisions (k8s_name_space, package_k8s_name, revision DESC);
CREATE INDEX package_revisions_lifecycle_idx ON package_revisions (lifecycle);
CREATE INDEX package_revisions_latest_idx
    ON package_revisions (k8s_name_space, package_k8s_name) WHERE latest;

CREATE TABLE resources (
    k8s_name_space TEXT NOT NULL,
    k8s_name       TEXT NOT NULL,
    revision       INTEGER NOT NULL,
    resource_key   TEXT NOT NULL CHECK (resource_key <> ''),
    resource_value TEXT NOT NULL,
    PRIMARY KEY (k8s_name_space, k8s_name, resource_key),
    CONSTRAINT fk_package_revision FOREIGN KEY (k8s_name_space, k8s_name)
        REFERENCES package_revisions (k8s_name_space, k8s_name) ON DELETE CASCADE
);

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
    recorded_at   TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    -- The writer transaction (one per batch) that recorded it.
    txid          BIGINT NOT NULL DEFAULT txid_current()
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
