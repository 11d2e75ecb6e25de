-- Every provider the projection names (participations, placements, course facts, exams,
-- funds, follow-ups)
SELECT provider FROM module_participations
UNION SELECT provider FROM placements
UNION SELECT provider FROM course_participations WHERE provider IS NOT NULL
UNION SELECT provider FROM exam_results WHERE provider IS NOT NULL
UNION SELECT provider FROM funding WHERE provider IS NOT NULL
UNION SELECT provider FROM follow_ups
