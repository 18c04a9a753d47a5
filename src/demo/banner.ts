/** What `npm run demo` prints: every command in it is meant to be pasted as it is. */
export interface BannerInput {
  url: string; // http://127.0.0.1:8080
  databasePath: string;
  secret: string;
  availableUsd: string;
  toppedUpUsd: string | null;
  adminToken: string;
}

/** A value as one shell word (paths with spaces, quotes, …). */
export function shellWord(value: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

export function demoBanner(b: BannerInput): string {
  const base = `${b.url}/v1`;
  const topUp = b.toppedUpUsd ? `, topped up by ${b.toppedUpUsd} at this start` : '';
  return `
reelay demo is running (upstream: built-in simulator, database: ${b.databasePath})

  base URL     ${base}
  API key      ${b.secret}   (available ${b.availableUsd} USD${topUp})
  admin token  ${b.adminToken}
  dashboard    ${b.url}/admin/ui   (sign in with the admin token)

Try it with curl:

  curl -s ${base}/videos -H "Authorization: Bearer ${b.secret}" \\
    -H "Content-Type: application/json" -d '{"model":"sora-2","prompt":"a red kite over the sea","seconds":"4"}'

or with the OpenAI SDK (npm i openai):

  OPENAI_BASE_URL=${base} OPENAI_API_KEY=${b.secret} node --input-type=module -e '
    import OpenAI from "openai"; const client = new OpenAI();
    const video = await client.videos.create({ model: "sora-2", prompt: "a red kite over the sea" });
    console.log(video.id, video.status);'

Admin API:  curl -s ${b.url}/admin/keys -H "Authorization: Bearer ${b.adminToken}"
CLI:        DATABASE_URL=${shellWord(b.databasePath)} npx reelay keys list
Prompts containing [fail] make a job fail (free); [reject] is refused at create.
Press Ctrl-C to stop.
`;
}
