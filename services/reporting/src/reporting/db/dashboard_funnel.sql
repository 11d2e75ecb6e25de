-- $1 the categories that count as placed: registered, coached (an F1 or F6 case), placed
SELECT count(*) AS registered,
       count(*) FILTER (WHERE EXISTS (
           SELECT 1 FROM module_participations AS m
           WHERE m.participant_id = p.participant_id AND m.module IN ('F1', 'F6')
       )) AS coached,
       count(*) FILTER (WHERE EXISTS (
           SELECT 1 FROM placements AS l
           WHERE l.participant_id = p.participant_id AND l.category = ANY($1::text[])
       )) AS placed
FROM participants AS p
