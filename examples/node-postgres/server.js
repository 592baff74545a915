// The notes' app: a tiny HTTP server that keeps notes in postgres, reached over the
// project's network by its service name. POST / stores the request body as a note;
// GET / answers with every note so far, read back from postgres.
// The connection comes from libpq's variables (PGHOST, PGUSER, ...), defaulting to the
// postgres service of docker-compose.yml.
"use strict";
const http = require("http");
const { Pool } = require("pg");

const pool = new Pool({
  host: process.env.PGHOST || "postgres",
  port: Number(process.env.PGPORT || 5432),
  user: process.env.PGUSER || "postgres",
  password: process.env.PGPASSWORD || "postgres",
  database: process.env.PGDATABASE || "postgres-db",
});
const port = Number(process.env.PORT || 3000);

// postgres may still be starting when the first request comes (depends_on orders the
// starts, it does not wait for readiness): the table is made on the first request that
// reaches it, and a request that cannot answers 503 so that the client retries.
let ready = null;
function table() {
  ready = ready || pool.query(
    "CREATE TABLE IF NOT EXISTS notes (id serial PRIMARY KEY, body text NOT NULL, " +
    "created timestamptz NOT NULL DEFAULT now())").catch((err) => { ready = null; throw err; });
  return ready;
}

async function answer(req, body) {
  await table();
  if (req.method === "POST") {
    await pool.query("INSERT INTO notes (body) VALUES ($1)", [body.trim() || "(empty)"]);
  } else if (req.method !== "GET") {
    return [405, "method not allowed\n"];
  }
  const { rows } = await pool.query("SELECT id, body FROM notes ORDER BY id");
  const server = (await pool.query("SELECT current_database() AS db, version() AS v")).rows[0];
  const lines = rows.map((row) => `${row.id}. ${row.body}`);
  return [req.method === "POST" ? 201 : 200,
          `${rows.length} note(s) in ${server.db} (${server.v.split(" on ")[0]})\n` +
          lines.map((line) => line + "\n").join("")];
}

http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    answer(req, Buffer.concat(chunks).toString("utf8")).then(([status, text]) => {
      res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8" });
      res.end(text);
    }, (err) => {
      res.writeHead(503, { "Content-Type": "text/plain; charset=utf-8" });
      res.end(`postgres is not answering yet: ${err.message}\n`);
    });
  });
}).listen(port, () => console.log(`notes listening on port ${port}`));

// `ketch compose down` stops with SIGTERM: close the pool and leave at once.
process.on("SIGTERM", () => pool.end().finally(() => process.exit(0)));
