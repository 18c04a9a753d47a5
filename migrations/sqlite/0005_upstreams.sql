CREATE TABLE `upstream_health` (
	`id` text PRIMARY KEY NOT NULL,
	`consecutive_failures` integer DEFAULT 0 NOT NULL,
	`cooldown_until` integer,
	`cooldown_ms` integer DEFAULT 0 NOT NULL,
	`trial_until` integer,
	`last_error` text,
	`last_error_at` integer,
	`manual_enabled` integer,
	`manual_by` text,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
DROP INDEX `jobs_video_id_unique`;--> statement-breakpoint
ALTER TABLE `jobs` ADD `upstream_id` text DEFAULT 'default' NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX `jobs_upstream_video_idx` ON `jobs` (`upstream_id`,`video_id`);--> statement-breakpoint
CREATE INDEX `jobs_video_idx` ON `jobs` (`video_id`,`key_id`);--> statement-breakpoint
CREATE INDEX `jobs_upstream_status_idx` ON `jobs` (`upstream_id`,`status`);--> statement-breakpoint
ALTER TABLE `characters` ADD `upstream_id` text DEFAULT 'default' NOT NULL;--> statement-breakpoint
ALTER TABLE `request_log` ADD `upstream_id` text;