CREATE TABLE `archive_tasks` (
	`job_id` text PRIMARY KEY NOT NULL,
	`video_id` text NOT NULL,
	`state` text NOT NULL,
	`variants` text DEFAULT '{}' NOT NULL,
	`bytes` integer DEFAULT 0 NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer NOT NULL,
	`upstream_expires_at` integer NOT NULL,
	`completed_at` integer NOT NULL,
	`claimed_by` text,
	`claim_until` integer,
	`last_error` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`archived_at` integer,
	`deleted_at` integer,
	`purged_at` integer,
	FOREIGN KEY (`job_id`) REFERENCES `jobs`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `archive_tasks_state_due_idx` ON `archive_tasks` (`state`,`next_attempt_at`);--> statement-breakpoint
CREATE INDEX `archive_tasks_completed_idx` ON `archive_tasks` (`completed_at`);