-- xstilts store index: derived from the package's catalog / published data and the run shards.
-- Rebuilt by `store build`; never edited by hand. Rows are append-only and keyed by run_id.

CREATE TABLE meta (
    key   VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);

CREATE TABLE tasks (
    task VARCHAR PRIMARY KEY,
    role VARCHAR NOT NULL,             -- intermediate | target | aggregate
    name VARCHAR NOT NULL,
    benchmarks VARCHAR,                -- ';'-joined: XTREME;XTREME-R
    task_type VARCHAR NOT NULL,        -- classification | structured prediction | question answering | retrieval | aggregate
    task_subtype VARCHAR,
    format_level VARCHAR,              -- complexity axis A (1-5, T); intermediate tasks only
    metrics VARCHAR NOT NULL,          -- ';'-joined
    headline_metric VARCHAR NOT NULL,
    higher_is_better BOOLEAN NOT NULL,
    english_training VARCHAR,
    hf_dataset VARCHAR,
    hf_config_pattern VARCHAR,
    phase2 VARCHAR,
    notes VARCHAR
);

-- Complexity attributes of the intermediate tasks (axes A and B, reasoning type, English scores),
-- with the sources named in the reference file.
CREATE TABLE task_complexity (
    task VARCHAR PRIMARY KEY,
    format_level VARCHAR,
    format_rank INTEGER,               -- 1-5 (T = tagging has no rank)
    task_format VARCHAR,
    n_labels_or_choices INTEGER,
    n_labels_source VARCHAR,
    train_size BIGINT,
    train_size_source VARCHAR,
    bytes_per_example INTEGER,
    input_structure VARCHAR,
    reasoning_type VARCHAR,
    reasoning_source VARCHAR,
    english_model_score VARCHAR,
    english_model VARCHAR,
    english_model_source VARCHAR,
    human_score VARCHAR,
    human_source VARCHAR,
    notes VARCHAR
);

CREATE TABLE languages (
    language VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    family VARCHAR,
    genus VARCHAR,
    script VARCHAR,
    resource_class INTEGER,            -- Joshi et al. 2020, 0-5
    in_xtreme BOOLEAN,
    in_xtreme_r BOOLEAN
);

-- URIEL+ distance of each catalog language to English per kind (0-1; NULL where URIEL+ has no
-- shared feature), from store/data/catalog/uriel_distances.json (written by `store distances --write`).
CREATE TABLE language_distances (
    language VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,             -- syntactic | phonological | inventory | featural | morphological | genetic | geographic | script
    distance DOUBLE,
    uriel_code VARCHAR,                -- the Glottocode URIEL+ knows the language by (NULL: not in URIEL+)
    PRIMARY KEY (language, kind)
);

-- Where the distances come from: package, version, citation, configuration (one row).
CREATE TABLE distance_source (
    package VARCHAR NOT NULL,
    package_version VARCHAR NOT NULL,
    citation VARCHAR NOT NULL,
    base_citation VARCHAR,
    reference_language VARCHAR NOT NULL,
    configuration VARCHAR              -- JSON
);

CREATE TABLE task_languages (
    benchmark VARCHAR NOT NULL,
    task VARCHAR NOT NULL,
    language VARCHAR NOT NULL,
    PRIMARY KEY (benchmark, task, language)
);

CREATE TABLE models (
    model VARCHAR PRIMARY KEY,
    name VARCHAR,
    family VARCHAR,
    modality VARCHAR,
    params_m DOUBLE,
    hf_id VARCHAR,
    known BOOLEAN NOT NULL
);

CREATE TABLE dataset_statistics (
    task VARCHAR, statistic VARCHAR, value_as_printed VARCHAR, notes VARCHAR, source VARCHAR
);

CREATE TABLE sources (
    source VARCHAR PRIMARY KEY,        -- 'runner' or a published source key
    citation VARCHAR NOT NULL,
    locator VARCHAR NOT NULL,          -- paper table, or repository and path
    quality VARCHAR NOT NULL,          -- paper table | repository | pull request | second-hand | own runs | imported
    file VARCHAR,                      -- data file the rows were imported from
    notes VARCHAR
);

CREATE TABLE runs (
    run_id VARCHAR PRIMARY KEY,
    source VARCHAR NOT NULL,
    model VARCHAR NOT NULL,
    label VARCHAR,                     -- published: the model as the source prints it
    intermediate VARCHAR NOT NULL,     -- none | task | a+b | multitask | best (published)
    target VARCHAR NOT NULL,
    variant VARCHAR NOT NULL,          -- '' | mlm | translated
    setting VARCHAR NOT NULL,          -- zero-shot | translate-test | translate-train(-all)
    seed INTEGER,
    hparams VARCHAR,                   -- JSON
    config VARCHAR,                    -- JSON
    code_version VARCHAR,
    hardware VARCHAR,
    wall_time_s DOUBLE,
    gpu_hours DOUBLE,
    created_at VARCHAR,
    content_hash VARCHAR NOT NULL,
    -- configuration identity (store/configuration.py): everything but the seed
    config_id VARCHAR NOT NULL,
    target_config_id VARCHAR NOT NULL, -- the target phase's: what a matching 'none' baseline shares
    target_data VARCHAR,               -- target data revisions where recorded (compared beside it)
    configuration VARCHAR NOT NULL,    -- JSON {dotted.key: value}: labels of differing keys
    capped BOOLEAN NOT NULL            -- a max_*_examples cap is set: a debug run
);

CREATE TABLE results (
    run_id VARCHAR NOT NULL,
    language VARCHAR NOT NULL,         -- ISO 639-1, or 'avg' for a published average
    split VARCHAR NOT NULL,            -- test | validation
    metric VARCHAR NOT NULL,
    value DOUBLE NOT NULL,             -- points, 0-100
    n_examples BIGINT,
    metric_as_printed VARCHAR,
    value_as_printed VARCHAR,
    conversion VARCHAR,                -- e.g. 'fraction x 100'
    notes VARCHAR,
    PRIMARY KEY (run_id, language, split, metric)
);

CREATE TABLE dev_scores (
    run_id VARCHAR NOT NULL,
    phase VARCHAR NOT NULL,            -- intermediate | target
    task VARCHAR NOT NULL,
    metric VARCHAR NOT NULL,
    value DOUBLE NOT NULL,
    n_examples BIGINT,
    PRIMARY KEY (run_id, phase, task, metric)
);

-- Every result row with its run and catalog context: what the dashboard and exports read.
CREATE VIEW results_wide AS
SELECT
    r.run_id, u.source, u.model, u.label, u.intermediate, u.target, u.variant, u.setting, u.seed,
    u.config_id, u.target_config_id, u.target_data, u.capped,
    r.language, r.split, r.metric, r.value, r.n_examples,
    r.metric_as_printed, r.value_as_printed, r.conversion, r.notes,
    t.task_type AS target_type, t.name AS target_name, t.headline_metric = r.metric AS is_headline,
    l.name AS language_name, l.family, l.genus, l.script, l.resource_class,
    coalesce(m.known, false) AS model_known, m.params_m, m.modality
FROM results r
JOIN runs u USING (run_id)
JOIN tasks t ON t.task = u.target
LEFT JOIN languages l ON l.language = r.language
LEFT JOIN models m ON m.model = u.model;
