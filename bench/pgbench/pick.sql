-- What the pgbench scripts draw their ids from (bench/run.sh runs this after the HTTP load, so
-- the demo admin has a sign-in): one row per client of the demo clinic, with the admin as the
-- caller, the client's first assignment and the first three items of that assignment.
DROP TABLE IF EXISTS bench_pick;
CREATE TABLE bench_pick AS
WITH admin AS (
    SELECT m.clinic_id, m.user_id, m.id AS member_id,
           (SELECT f.id FROM token_families f
             WHERE f.user_id = m.user_id AND f.clinic_id = m.clinic_id AND f.revoked_at IS NULL
             ORDER BY f.id DESC LIMIT 1) AS family_id
      FROM memberships m
     WHERE m.role = 'admin' AND m.active AND m.accepted_at IS NOT NULL
     ORDER BY m.id LIMIT 1
)
SELECT row_number() OVER (ORDER BY c.id) AS n, a.clinic_id, a.user_id, a.member_id, a.family_id,
       c.id AS client_id, s.id AS assignment_id,
       it.items[1] AS item0, it.items[2] AS item1, it.items[3] AS item2
  FROM admin a
  JOIN clients c ON c.clinic_id = a.clinic_id
  CROSS JOIN LATERAL (SELECT id FROM assignments WHERE client_id = c.id ORDER BY id LIMIT 1) s
  CROSS JOIN LATERAL (SELECT array_agg(id ORDER BY position) AS items FROM assignment_items
                       WHERE assignment_id = s.id) it
 WHERE cardinality(it.items) >= 3;
ALTER TABLE bench_pick ADD PRIMARY KEY (n);
ANALYZE bench_pick;
SELECT count(*) FROM bench_pick;
