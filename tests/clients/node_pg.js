// node-postgres (`pg`) against datapunk: parameters, types, several queries.
// Usage: node node_pg.js PORT USER
const { Client } = require("pg");

async function main() {
  const [port, user] = process.argv.slice(2);
  const client = new Client({ host: "127.0.0.1", port: Number(port), user, database: "datapunk" });
  await client.connect();
  const byId = await client.query(
    "SELECT customer_id, name, signup_date, marketing_opt_in FROM lake.customers WHERE customer_id = $1",
    [7],
  );
  if (byId.rows.length !== 1 || Number(byId.rows[0].customer_id) !== 7) throw new Error("customer 7 not found");
  if (!(byId.rows[0].signup_date instanceof Date)) throw new Error("signup_date is not a Date");
  if (typeof byId.rows[0].marketing_opt_in !== "boolean") throw new Error("opt-in is not boolean");
  const agg = await client.query(
    "SELECT country, count(*) AS n FROM lake.orders WHERE status = $1 GROUP BY country ORDER BY n DESC LIMIT 3",
    ["completed"],
  );
  if (agg.rows.length === 0) throw new Error("no aggregate rows");
  if (agg.fields.map((f) => f.name).join(",") !== "country,n") throw new Error("wrong column names");
  const price = await client.query("SELECT price FROM lake.products WHERE product_id = $1", [1]);
  if (!/^\d+\.\d{2}$/.test(price.rows[0].price)) throw new Error(`numeric text: ${price.rows[0].price}`);
  await client.end();
  console.log("ok node-postgres");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
