-- The database traces/sqlite-query.npz queries: 10,000 rows, deterministic contents.
CREATE TABLE t(k INTEGER PRIMARY KEY, grp INTEGER, v REAL, s TEXT);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 10000)
INSERT INTO t SELECT x, (x * 7919) % 97, ((x * 2654435761) % 1000003) / 1000.0,
                     printf('%08x-%08x', (x * 2654435761) % 4294967296, x * 40503)
FROM c;
