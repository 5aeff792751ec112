import { join } from "node:path"
import { chaosSuite } from "./chaos.js"
import { tempDir } from "./helpers.js"

chaosSuite("SQLite", async () => `sqlite:${join(tempDir(), "cluster.db")}`)
