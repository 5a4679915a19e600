-- Porch's DB cache tables, with porch's names, keys and columns, so porch's own SELECTs keep
-- working. Differences from porch: `updated` is TIMESTAMPTZ (versions are microseconds since the
-- epoch, so the zone must not depend on the session), and there are no triggers: the writer
-- enforces porch's rules in code and is the only author of `latest`.

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
