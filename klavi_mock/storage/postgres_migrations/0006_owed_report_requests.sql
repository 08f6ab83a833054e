-- Report requests recorded but not built (issue 20): a running instance builds those another
-- instance left owed (it was killed between recording a request and sending its reports),
-- so it looks for them now and then; this index keeps that look cheap however many
-- requests were built.
CREATE INDEX report_requests_owed ON report_requests (created_at) WHERE data->>'built' = 'false';
