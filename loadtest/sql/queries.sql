-- Every statement the load test runs against the database itself, each under a
-- `-- name: <operation>` header; loadtest/queries.py loads them. The pipeline mode only reads
-- (as porch's API server and controller read their cache); the other modes also write, each the
-- way its write path does (see loadtest/modes/).
-- A write moves the revision's version (`updated`) strictly forward, as the writer does, so
-- versions compare across modes.

-- ----------------------------------------------------------------------------------------------
-- Setup of a run's namespace (direct modes; the pipeline mode sends intents instead)
-- ----------------------------------------------------------------------------------------------

-- name: insert_repository
INSERT INTO repositories (
    k8s_name_space, k8s_name, directory, default_ws_name, meta, spec, updated, updatedby,
    deployment
)
VALUES ($1, $2, '', 'main', '{}', '{}', clock_timestamp(), $3, FALSE);

-- name: insert_packages
INSERT INTO packages (
    k8s_name_space, k8s_name, repo_k8s_name, package_path, meta, spec, updated, updatedby
)
SELECT $1, new.name, $2, new.path, '{}', '{}', clock_timestamp(), $3
FROM unnest($4::text[], $5::text[]) AS new (name, path);

-- name: insert_revision
INSERT INTO package_revisions (
    k8s_name_space, k8s_name, package_k8s_name, revision, meta, spec, updated, updatedby,
    lifecycle, ext_pr_id, latest, tasks, resources_size
)
VALUES ($1, $2, $3, 0, '{}', '{}', clock_timestamp(), $4, 'Draft', '{}', FALSE, '[]', $5)
RETURNING updated;

-- ----------------------------------------------------------------------------------------------
-- Reads (every mode): porch's GET of a package revision and its resources
-- ----------------------------------------------------------------------------------------------

-- name: read_revision
-- One statement, so one snapshot: the version and the resources belong together (as far as the
-- write path that produced them lets them).
SELECT r.updated, r.lifecycle, c.keys, c.vals
FROM package_revisions AS r
CROSS JOIN LATERAL (
    SELECT array_agg(s.resource_key ORDER BY s.resource_key) AS keys,
           array_agg(s.resource_value ORDER BY s.resource_key) AS vals
    FROM resources AS s
    WHERE s.k8s_name_space = r.k8s_name_space AND s.k8s_name = r.k8s_name
) AS c
WHERE r.k8s_name_space = $1 AND r.k8s_name = $2;

-- name: read_state
SELECT updated, lifecycle FROM package_revisions WHERE k8s_name_space = $1 AND k8s_name = $2;

-- ----------------------------------------------------------------------------------------------
-- Writes of the direct modes
-- ----------------------------------------------------------------------------------------------

-- name: lock_revision
-- The locked mode's first statement: every writer of this revision queues here.
SELECT updated, lifecycle
FROM package_revisions
WHERE k8s_name_space = $1 AND k8s_name = $2
FOR UPDATE;

-- name: touch_revision
-- porch's pkgRevUpdateDB: the revision row, with a new version and size.
UPDATE package_revisions
SET updated = GREATEST(clock_timestamp(), updated + interval '1 microsecond'),
    updatedby = $3, resources_size = $4
WHERE k8s_name_space = $1 AND k8s_name = $2
RETURNING updated;

-- name: set_lifecycle
UPDATE package_revisions
SET lifecycle = $3, updatedby = $4,
    updated = GREATEST(clock_timestamp(), updated + interval '1 microsecond')
WHERE k8s_name_space = $1 AND k8s_name = $2
RETURNING updated;

-- name: publish_revision
-- Numbers the revision max + 1 over its package and moves `latest` to it.
WITH others AS (
    UPDATE package_revisions SET latest = FALSE
    WHERE k8s_name_space = $1 AND package_k8s_name = $3 AND latest AND k8s_name <> $2
)
UPDATE package_revisions
SET lifecycle = 'Published', latest = TRUE, updatedby = $4,
    revision = (
        SELECT coalesce(max(revision), 0) + 1 FROM package_revisions
        WHERE k8s_name_space = $1 AND package_k8s_name = $3 AND revision > 0
    ),
    updated = GREATEST(clock_timestamp(), updated + interval '1 microsecond')
WHERE k8s_name_space = $1 AND k8s_name = $2
RETURNING updated;

-- name: delete_resources
-- porch's pkgRevResourcesDeleteFromDB.
DELETE FROM resources WHERE k8s_name_space = $1 AND k8s_name = $2;

-- name: upsert_resource
-- porch's pkgRevResourceWriteToDB: one statement per resource.
INSERT INTO resources (k8s_name_space, k8s_name, revision, resource_key, resource_value)
VALUES ($1, $2, 0, $3, $4)
ON CONFLICT (k8s_name_space, k8s_name, resource_key)
DO UPDATE SET resource_value = EXCLUDED.resource_value;

-- name: insert_resources
-- The locked mode's (and the setup's) multi-row write.
INSERT INTO resources (k8s_name_space, k8s_name, revision, resource_key, resource_value)
SELECT $1, $2, 0, new.key, new.value
FROM unnest($3::text[], $4::text[]) AS new (key, value);

-- ----------------------------------------------------------------------------------------------
-- Verification
-- ----------------------------------------------------------------------------------------------

-- name: namespace_revisions
SELECT k8s_name, package_k8s_name, lifecycle, revision, updated
FROM package_revisions
WHERE k8s_name_space = $1;

-- name: namespace_resources
SELECT k8s_name, resource_key, resource_value
FROM resources
WHERE k8s_name_space = $1;

-- name: namespace_log
SELECT seq, intent_id, revision_name, kind, status, version
FROM intent_log
WHERE namespace = $1
ORDER BY seq;

-- name: count_logged
SELECT count(*) FROM intent_log WHERE intent_id = ANY($1::uuid[]);

-- name: missing_from_log
SELECT wanted.id
FROM unnest($1::uuid[]) AS wanted (id)
WHERE NOT EXISTS (SELECT 1 FROM intent_log AS l WHERE l.intent_id = wanted.id);

-- name: log_has_txid
SELECT EXISTS (
    SELECT 1 FROM information_schema.columns
    WHERE table_schema = current_schema() AND table_name = 'intent_log' AND column_name = 'txid'
);

-- name: batch_sizes
-- One row per writer transaction that applied this run's intents (needs intent_log.txid).
SELECT count(*)::int AS size
FROM intent_log
WHERE namespace = $1
GROUP BY txid;

-- ----------------------------------------------------------------------------------------------
-- Before a run
-- ----------------------------------------------------------------------------------------------

-- name: vacuum_tables
-- Every mode starts from tables without the dead rows of earlier runs (autovacuum may be off,
-- as on the benchmark machine); VACUUM cannot run in a transaction block.
VACUUM (ANALYZE) resources, package_revisions, packages, intent_log;

-- name: autovacuum_setting
SELECT current_setting('autovacuum');
