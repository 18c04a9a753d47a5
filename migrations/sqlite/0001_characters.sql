CREATE TABLE `characters` (
	`id` text PRIMARY KEY NOT NULL,
	`key_id` text NOT NULL,
	`request_id` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`key_id`) REFERENCES `api_keys`(`id`) ON UPDATE no action ON DELETE no action
);
