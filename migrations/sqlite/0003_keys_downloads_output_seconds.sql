ALTER TABLE `api_keys` ADD `max_concurrent_downloads` integer;--> statement-breakpoint
ALTER TABLE `jobs` ADD `output_seconds` integer;