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
PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_characters` (
	`id` text NOT NULL,
	`key_id` text NOT NULL,
	`request_id` text NOT NULL,
	`upstream_id` text DEFAULT 'default' NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`upstream_id`, `id`),
	FOREIGN KEY (`key_id`) REFERENCES `api_keys`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
INSERT INTO `__new_characters`("id", "key_id", "request_id", "upstream_id", "created_at") SELECT "id", "key_id", "request_id", 'default', "created_at" FROM `characters`;--> statement-breakpoint
DROP TABLE `characters`;--> statement-breakpoint
ALTER TABLE `__new_characters` RENAME TO `characters`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE INDEX `characters_id_key_idx` ON `characters` (`id`,`key_id`);--> statement-breakpoint
ALTER TABLE `request_log` ADD `upstream_id` text;