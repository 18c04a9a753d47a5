CREATE TABLE "archive_tasks" (
	"job_id" text PRIMARY KEY NOT NULL,
	"video_id" text NOT NULL,
	"state" text NOT NULL,
	"variants" text DEFAULT '{}' NOT NULL,
	"bytes" bigint DEFAULT 0 NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" bigint NOT NULL,
	"upstream_expires_at" bigint NOT NULL,
	"completed_at" bigint NOT NULL,
	"claimed_by" text,
	"claim_until" bigint,
	"last_error" text,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	"archived_at" bigint,
	"deleted_at" bigint,
	"purged_at" bigint
);
--> statement-breakpoint
ALTER TABLE "archive_tasks" ADD CONSTRAINT "archive_tasks_job_id_jobs_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."jobs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "archive_tasks_state_due_idx" ON "archive_tasks" USING btree ("state","next_attempt_at");--> statement-breakpoint
CREATE INDEX "archive_tasks_completed_idx" ON "archive_tasks" USING btree ("completed_at");