// Drives Rocket.Chat's own REST client (@rocket.chat/api-client) against a server, the way the Engagement
// Dashboard's page does: GET /v1/engagement-dashboard/..., signed with X-User-Id / X-Auth-Token, start/end as
// JavaScript ISO strings. Prints one JSON line per call: what the client returned, or what it rejected with.
//
//   node calls.mjs <base URL>      with ENGAGEMENT_CLIENT_USERS='{"admin": {"X-User-Id": ..., "X-Auth-Token": ...},
//                                  "plain user": {...}, "rate-limited": {...}, "wrong token": {...}}'
//
// The client resolves a 2xx with the parsed body and rejects anything else with the fetch Response itself (after
// reading a 400's body for a two-factor challenge); the caller reads status, headers and body from it.
import { RestClient } from '@rocket.chat/api-client';

const baseUrl = process.argv[2];
const users = JSON.parse(process.env.ENGAGEMENT_CLIENT_USERS);
const PREFIX = '/v1/engagement-dashboard';
const DAY = 86_400_000;

// As the page's "last 7 days": from the start of the day a week ago to the end of yesterday (UTC: TZ=UTC).
const today = new Date();
today.setHours(0, 0, 0, 0);
const start = new Date(today.getTime() - 7 * DAY).toISOString();
const end = new Date(today.getTime() - 1).toISOString();
const yesterday = new Date(today.getTime() - DAY).toISOString();

const client = new RestClient({ baseUrl });
let sent = null; // the endpoint with its query string, as the client put it on the wire
client.use((context, next) => {
  [sent] = context;
  return next(...context);
});

const RATE_HEADERS = ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'retry-after'];

async function call(name, as, path, params) {
  client.setCredentials(users[as]);
  sent = null;
  const line = { name, as, path: PREFIX + path };
  try {
    line.result = await client.get(PREFIX + path, params);
    line.ok = true;
  } catch (error) {
    line.ok = false;
    if (error instanceof Response) {
      line.status = error.status;
      line.contentType = error.headers.get('content-type');
      const present = RATE_HEADERS.filter((h) => error.headers.has(h));
      line.headers = Object.fromEntries(present.map((h) => [h, error.headers.get(h)]));
      const text = await error.text();
      try {
        line.body = JSON.parse(text);
      } catch {
        line.text = text;
      }
    } else {
      line.thrown = `${error?.name}: ${error?.message}`; // the client itself failed (a parse error, say)
    }
  }
  line.sent = sent;
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

const range = { start, end };
await call('messages-sent', 'admin', '/messages/messages-sent', range);
await call('origin', 'admin', '/messages/origin', range);
await call('top-five', 'admin', '/messages/top-five-popular-channels', range);
await call('new-users', 'admin', '/users/new-users', range);
await call('active-users', 'admin', '/users/active-users', range);
await call('by-hour', 'admin', '/users/users-by-time-of-the-day-in-a-week', range);
await call('hourly', 'admin', '/users/chat-busier/hourly-data', { start: yesterday });
await call('weekly', 'admin', '/users/chat-busier/weekly-data', { start: yesterday });
await call('channels', 'admin', '/channels/list', { ...range, offset: 0, count: 25 });

await call('wrong token', 'wrong token', '/messages/messages-sent', range);
await call('no permission', 'plain user', '/messages/messages-sent', range);
await call('bad start', 'admin', '/messages/origin', { start: 'not-a-date', end });
for (let i = 1; i <= 3; i += 1) {
  await call(`rate-limited ${i}`, 'rate-limited', '/users/new-users', range);
}
