-- Every statement the writer runs, each under a `-- name: <operation>` header (procrastinate's
-- style). writer/queries.py loads this file once; writer/gateway.py is the only caller.
-- A revision's version is its `updated`; every write moves it strictly forward with
-- GREATEST(clock_timestamp(), updated + 1 microsecond), so two writes in the same microsecond
-- (or after a clock step back) still get distinct, increasing versions.

-- ----------------------------------------------------------------------------------------------
-- Batch frame
-- ----------------------------------------------------------------------------------------------

-- name: begin_locked
-- The batch's first round trip: BEGIN and its locks, sent as one simple query, so it has no
-- parameters: the gateway formats integers into {lock_class}, {partition} and {package_keys},
-- and {begin} is BEGIN, or SAVEPOINT batch inside a caller's transaction (tests hold one open
-- to play a slow writer). Every writer takes its locks in one global order (partition, then
-- packages sorted), so two writers can wait on each other but never in a cycle.
{begin};
SELECT pg_advisory_xact_lock({lock_class}::int4, {partition}::int4);
SELECT count(pg_advisory_xact_lock(key)) FROM unnest(ARRAY[{package_keys}]::int8[]) AS key;

-- name: commit
COMMIT;

-- name: rollback
ROLLBACK;

-- name: release_batch_savepoint
RELEASE SAVEPOINT batch;

-- name: rollback_batch_savepoint
ROLLBACK TO SAVEPOINT batch;
RELEASE SAVEPOINT batch;

-- name: savepoint
SAVEPOINT intent;

-- name: release_savepoint
RELEASE SAVEPOINT intent;

-- name: rollback_to_savepoint
ROLLBACK TO SAVEPOINT intent;

-- name: fetch_logged
SELECT intent_id, body_digest, status, outcome
FROM intent_log
WHERE intent_id = ANY($1::uuid[]);

-- name: insert_log
-- One multi-row statement for the whole batch; identity values follow the array order, so `seq`
-- is the apply order. A conflict is only possible for a replayed dead letter: it overwrites that
-- row and takes a new `seq`, since it is applied now.
INSERT INTO intent_log (
    intent_id, partition, namespace, name, revision_name, kind, producer_user, producer_role,
    status, reason, message, version, outcome, body_digest, received_at
)
SELECT * FROM unnest(
    $1::uuid[], $2::int4[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
    $8::text[], $9::text[], $10::text[], $11::text[], $12::int8[], $13::text[], $14::text[],
    $15::timestamptz[]
)
ON CONFLICT (intent_id) DO UPDATE SET
    seq = DEFAULT,
    partition = EXCLUDED.partition,
    namespace = EXCLUDED.namespace,
    name = EXCLUDED.name,
    revision_name = EXCLUDED.revision_name,
    kind = EXCLUDED.kind,
    producer_user = EXCLUDED.producer_user,
    producer_role = EXCLUDED.producer_role,
    status = EXCLUDED.status,
    reason = EXCLUDED.reason,
    message = EXCLUDED.message,
    version = EXCLUDED.version,
    outcome = EXCLUDED.outcome,
    body_digest = EXCLUDED.body_digest,
    received_at = EXCLUDED.received_at,
    recorded_at = clock_timestamp()
WHERE intent_log.status = 'dead_lettered';

-- ----------------------------------------------------------------------------------------------
-- Repositories
-- ----------------------------------------------------------------------------------------------

-- name: insert_repository
-- ON CONFLICT DO NOTHING: an existing repository is the `already_exists` precondition, checked
-- and enforced by the same statement without writing anything.
INSERT INTO repositories (
    k8s_name_space, k8s_name, directory, default_ws_name, meta, spec, updated, updatedby,
    deployment
)
VALUES ($1, $2, $3, $4, $5, $6, clock_timestamp(), $7, $8)
ON CONFLICT (k8s_name_space, k8s_name) DO NOTHING
RETURNING updated;

-- name: update_repository
UPDATE repositories
SET meta = $3, spec = $4, deployment = $5, updatedby = $6,
    updated = GREATEST(clock_timestamp(), updated + interval '1 microsecond')
WHERE k8s_name_space = $1 AND k8s_name = $2
RETURNING updated;

-- name: fetch_repository_packages
SELECT k8s_name FROM packages WHERE k8s_name_space = $1 AND repo_k8s_name = $2;

-- name: lock_packages
-- A repository removal cascades into packages of other partitions: it waits for their writers.
SELECT count(pg_advisory_xact_lock(key)) FROM unnest($1::int8[]) AS key;

-- name: delete_repository
DELETE FROM repositories
WHERE k8s_name_space = $1 AND k8s_name = $2
RETURNING k8s_name;

-- ----------------------------------------------------------------------------------------------
-- Package revisions
-- ----------------------------------------------------------------------------------------------

-- name: fetch_revision
-- No row lock: this package's advisory lock excludes every other writer of the row, and a
-- repository removal takes the locks of all its packages before it cascades.
SELECT r.package_k8s_name, r.revision, r.lifecycle, r.latest, r.updated, s.pending_version
FROM package_revisions AS r
LEFT JOIN revision_render_state AS s USING (k8s_name_space, k8s_name)
WHERE r.k8s_name_space = $1 AND r.k8s_name = $2;

-- name: fetch_revision_for_rewrite
-- A push's or a render's one read: the revision and the md5 of each of its resources.
SELECT r.package_k8s_name, r.revision, r.lifecycle, r.latest, r.updated, s.pending_version,
       d.keys, d.digests
FROM package_revisions AS r
LEFT JOIN revision_render_state AS s USING (k8s_name_space, k8s_name)
CROSS JOIN LATERAL (
    SELECT array_agg(resource_key) AS keys, array_agg(md5(resource_value)) AS digests
    FROM resources
    WHERE resources.k8s_name_space = r.k8s_name_space AND resources.k8s_name = r.k8s_name
) AS d
WHERE r.k8s_name_space = $1 AND r.k8s_name = $2;

-- name: rewrite_resources
-- A push's or a render's one write: delete the keys that went away ($4), upsert the new and
-- changed ones ($5, $6), stamp the revision, and set ($10 = 'set'), clear ('clear') or keep the
-- pending render. The new version is at least $11 microseconds past the old one, so that each of
-- the $11 intents folded into this write (writer.coalesce) has a version of its own.
-- The sub-statements touch disjoint rows, so one snapshot serves them all.
WITH gone AS (
    DELETE FROM resources
    WHERE k8s_name_space = $1 AND k8s_name = $2 AND resource_key = ANY($4::text[])
), put AS (
    INSERT INTO resources (k8s_name_space, k8s_name, revision, resource_key, resource_value)
    SELECT $1, $2, $3, new.key, new.value
    FROM unnest($5::text[], $6::text[]) AS new (key, value)
    ON CONFLICT (k8s_name_space, k8s_name, resource_key) DO UPDATE SET
        revision = EXCLUDED.revision,
        resource_value = EXCLUDED.resource_value
), stamped AS (
    UPDATE package_revisions
    SET resources_size = $7, kptfile_status = COALESCE($8, kptfile_status), updatedby = $9,
        updated = GREATEST(clock_timestamp(), updated + interval '1 microsecond' * $11::int)
    WHERE k8s_name_space = $1 AND k8s_name = $2
    RETURNING updated
), pending_set AS (
    INSERT INTO revision_render_state (k8s_name_space, k8s_name, pending_version)
    -- Exact microseconds on every PostgreSQL version (no floating point).
    SELECT $1, $2, extract(epoch FROM date_trunc('second', updated))::int8 * 1000000
                   + extract(microseconds FROM updated)::int8 % 1000000
    FROM stamped
    WHERE $10::text = 'set'
    ON CONFLICT (k8s_name_space, k8s_name) DO UPDATE SET pending_version = EXCLUDED.pending_version
), pending_clear AS (
    DELETE FROM revision_render_state
    WHERE k8s_name_space = $1 AND k8s_name = $2 AND $10::text = 'clear'
)
SELECT updated FROM stamped;

-- name: fetch_placement
-- Everything a create or upsert must check, in one round trip: does the repository exist, which
-- repository holds the package (if any), and the revision row (if any).
SELECT
    EXISTS (
        SELECT 1 FROM repositories WHERE k8s_name_space = $1 AND k8s_name = $2
    ) AS repository_exists,
    (
        SELECT repo_k8s_name FROM packages WHERE k8s_name_space = $1 AND k8s_name = $3
    ) AS package_repository,
    r.package_k8s_name, r.revision, r.lifecycle, r.latest, r.updated, s.pending_version
FROM (SELECT 1) AS one
LEFT JOIN package_revisions AS r ON r.k8s_name_space = $1 AND r.k8s_name = $4
LEFT JOIN revision_render_state AS s
    ON s.k8s_name_space = r.k8s_name_space AND s.k8s_name = r.k8s_name;

-- name: ensure_package
INSERT INTO packages (
    k8s_name_space, k8s_name, repo_k8s_name, package_path, meta, spec, updated, updatedby
)
VALUES ($1, $2, $3, $4, '{}', '{}', clock_timestamp(), $5)
ON CONFLICT (k8s_name_space, k8s_name) DO NOTHING;

-- name: insert_revision
INSERT INTO package_revisions (
    k8s_name_space, k8s_name, package_k8s_name, revision, meta, spec, updated, updatedby,
    lifecycle, ext_pr_id, latest, tasks, resources_size
)
VALUES ($1, $2, $3, 0, $4, $5, clock_timestamp(), $6, $7, '{}', FALSE, $8, $9)
RETURNING updated;

-- name: upsert_synced_revision
-- Placeholders (-1) and external revisions (>= 1) are cached as found; `latest` is left to
-- refresh_latest.
INSERT INTO package_revisions (
    k8s_name_space, k8s_name, package_k8s_name, revision, meta, spec, updated, updatedby,
    lifecycle, ext_pr_id, latest, tasks, resources_size
)
VALUES ($1, $2, $3, $4, $5, $6, clock_timestamp(), $7, $8, $9, FALSE, $10, $11)
ON CONFLICT (k8s_name_space, k8s_name) DO UPDATE SET
    revision = EXCLUDED.revision,
    meta = EXCLUDED.meta,
    spec = EXCLUDED.spec,
    updatedby = EXCLUDED.updatedby,
    lifecycle = EXCLUDED.lifecycle,
    ext_pr_id = EXCLUDED.ext_pr_id,
    tasks = EXCLUDED.tasks,
    resources_size = EXCLUDED.resources_size,
    updated = GREATEST(clock_timestamp(), package_revisions.updated + interval '1 microsecond')
RETURNING updated;

-- name: update_lifecycle
UPDATE package_revisions
SET lifecycle = $3, updatedby = $4,
    updated = GREATEST(clock_timestamp(), updated + interval '1 microsecond')
WHERE k8s_name_space = $1 AND k8s_name = $2
RETURNING updated;

-- name: update_metadata
-- NULL parameters leave their column as it is.
UPDATE package_revisions
SET meta = COALESCE($3, meta), spec = COALESCE($4, spec), tasks = COALESCE($5, tasks),
    kptfile_status = COALESCE($6, kptfile_status), updatedby = $7,
    updated = GREATEST(clock_timestamp(), updated + interval '1 microsecond')
WHERE k8s_name_space = $1 AND k8s_name = $2
RETURNING updated;

-- name: fetch_publish_context
SELECT
    EXISTS (
        SELECT 1 FROM resources
        WHERE k8s_name_space = $1 AND k8s_name = $2 AND resource_key = 'Kptfile'
    ) AS has_kptfile,
    (
        SELECT coalesce(max(revision), 0) FROM package_revisions
        WHERE k8s_name_space = $1 AND package_k8s_name = $3 AND revision > 0
    ) AS max_revision;

-- name: publish_revision
-- Numbers the revision and moves `latest` to it in one statement (disjoint rows, so the two
-- updates cannot collide): exactly one latest row per package at every commit.
WITH others AS (
    UPDATE package_revisions SET latest = FALSE
    WHERE k8s_name_space = $1 AND package_k8s_name = $3 AND latest AND k8s_name <> $2
)
UPDATE package_revisions
SET lifecycle = 'Published', revision = $4, latest = TRUE, updatedby = $5,
    updated = GREATEST(clock_timestamp(), updated + interval '1 microsecond')
WHERE k8s_name_space = $1 AND k8s_name = $2
RETURNING updated;

-- name: refresh_latest
-- `latest` on the highest Published/DeletionProposed revision > 0 of the package and on no other;
-- only rows whose flag changes are written.
WITH best AS (
    SELECT k8s_name FROM package_revisions
    WHERE k8s_name_space = $1 AND package_k8s_name = $2 AND revision > 0
      AND lifecycle IN ('Published', 'DeletionProposed')
    ORDER BY revision DESC, k8s_name
    LIMIT 1
)
UPDATE package_revisions AS r
SET latest = coalesce(r.k8s_name = (SELECT k8s_name FROM best), FALSE)
WHERE r.k8s_name_space = $1 AND r.package_k8s_name = $2
  AND r.latest <> coalesce(r.k8s_name = (SELECT k8s_name FROM best), FALSE);

-- name: delete_revision
DELETE FROM package_revisions
WHERE k8s_name_space = $1 AND k8s_name = $2
RETURNING latest;

-- name: delete_package_if_empty
DELETE FROM packages AS p
WHERE p.k8s_name_space = $1 AND p.k8s_name = $2
  AND NOT EXISTS (
      SELECT 1 FROM package_revisions AS r
      WHERE r.k8s_name_space = $1 AND r.package_k8s_name = $2
  )
RETURNING k8s_name;

-- name: set_render_pending
INSERT INTO revision_render_state (k8s_name_space, k8s_name, pending_version)
VALUES ($1, $2, $3)
ON CONFLICT (k8s_name_space, k8s_name) DO UPDATE SET pending_version = EXCLUDED.pending_version;

-- ----------------------------------------------------------------------------------------------
-- Resources, written as a diff
-- ----------------------------------------------------------------------------------------------

-- name: fetch_resource_digests
SELECT resource_key, md5(resource_value) AS digest
FROM resources
WHERE k8s_name_space = $1 AND k8s_name = $2;

-- name: delete_resources
DELETE FROM resources
WHERE k8s_name_space = $1 AND k8s_name = $2 AND resource_key = ANY($3::text[]);

-- name: upsert_resources
INSERT INTO resources (k8s_name_space, k8s_name, revision, resource_key, resource_value)
SELECT $1, $2, $3, new.key, new.value
FROM unnest($4::text[], $5::text[]) AS new (key, value)
ON CONFLICT (k8s_name_space, k8s_name, resource_key) DO UPDATE SET
    revision = EXCLUDED.revision,
    resource_value = EXCLUDED.resource_value;

-- ----------------------------------------------------------------------------------------------
-- Dead letters and verification
-- ----------------------------------------------------------------------------------------------

-- name: record_dead_letter
-- The dead letter always; an intent_log row only when the delivery was never recorded (an
-- applied or rejected intent keeps its outcome). One statement, so both or neither.
WITH letter AS (
    INSERT INTO dead_letters (
        log_id, intent_id, queue, partition, kind, reason, death_count, properties, headers, body
    )
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, $10)
    RETURNING id
), logged AS (
    INSERT INTO intent_log (
        intent_id, partition, namespace, name, revision_name, kind, producer_user,
        producer_role, status, reason, message, outcome, body_digest, received_at
    )
    VALUES ($1, $4, $11, $12, $13, $5, $14, $15, 'dead_lettered', $6, $16, $17, $18, $19)
    ON CONFLICT (intent_id) DO NOTHING
    RETURNING intent_id
)
SELECT (SELECT id FROM letter) AS id, EXISTS (SELECT 1 FROM logged) AS logged;

-- name: list_dead_letters
SELECT id, log_id, intent_id, queue, partition, kind, reason, death_count,
       properties::text AS properties, headers::text AS headers, body, dead_lettered_at,
       replayed_at
FROM dead_letters
WHERE $1 OR replayed_at IS NULL
ORDER BY id;

-- name: mark_replayed
UPDATE dead_letters SET replayed_at = clock_timestamp()
WHERE id = ANY($1::int8[]) AND replayed_at IS NULL
RETURNING id;

-- name: fetch_outcomes
SELECT intent_id, outcome FROM intent_log WHERE intent_id = ANY($1::uuid[]);

-- name: fetch_log_in_order
SELECT seq, intent_id, partition, namespace, name, revision_name, kind, producer_user, status,
       reason, version, outcome, recorded_at
FROM intent_log
WHERE $1::text IS NULL OR namespace = $1
ORDER BY seq;

-- ----------------------------------------------------------------------------------------------
-- Migrations
-- ----------------------------------------------------------------------------------------------

-- name: create_database
-- {database} is an identifier quoted by the caller: CREATE DATABASE takes no parameters.
CREATE DATABASE {database};

-- name: lock_migrations
SELECT pg_advisory_lock($1::int4, $2::int4);

-- name: unlock_migrations
SELECT pg_advisory_unlock($1::int4, $2::int4);

-- name: create_migrations_table
-- Bootstraps the bookkeeping table; schema.sql declares it the same way.
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INT PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);

-- name: applied_migrations
SELECT version FROM schema_migrations ORDER BY version;

-- name: record_migration
INSERT INTO schema_migrations (version, name) VALUES ($1, $2);
