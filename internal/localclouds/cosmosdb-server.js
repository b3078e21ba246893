// Starts @zeit/cosmosdb-server on 127.0.0.1 with a certificate the test made.
// The package's command line has no option for a certificate and the one it
// bundles expired in 2021, so the test calls its JavaScript API instead.
//
// Usage: node cosmosdb-server.js PORT, with COSMOS_MODULES (the node_modules
// folder holding the package), COSMOS_CERT and COSMOS_KEY (PEM files).
"use strict";
const fs = require("fs");
const path = require("path");

const { createHttpsServer } = require(
  path.join(process.env.COSMOS_MODULES, "@zeit", "cosmosdb-server"));
const port = parseInt(process.argv[2], 10);
const server = createHttpsServer({
  cert: fs.readFileSync(process.env.COSMOS_CERT),
  key: fs.readFileSync(process.env.COSMOS_KEY),
  minVersion: "TLSv1.2",
});
server.listen(port, "127.0.0.1", () => {
  console.log(`cosmosdb-server ready at https://127.0.0.1:${port}`);
});
