-- The River job that claimed a touch (ClaimTouch). A touch found in
-- 'sending' is marked 'uncertain' only by the job that claimed it, run
-- again after its process died; another job of the same step (a resend or
-- a resume queues one) leaves it to that job.
ALTER TABLE touches ADD COLUMN claim_job_id bigint;
