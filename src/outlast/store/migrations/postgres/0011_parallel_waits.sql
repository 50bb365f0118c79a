-- A wait or invoke planned in race mode (step.parallel mode "race"): the run goes on as
-- soon as it resolves. Other waits are part of their parallel group, which the run waits
-- for whole (Queue.pending_steps counts them); a race's losing wait may stay open, so it
-- must not hold the run back.
ALTER TABLE waits ADD COLUMN race BIGINT NOT NULL DEFAULT 0;
