#!/usr/bin/env node
import "reflect-metadata";
import { Command } from "commander";
import { registerServeCommand } from "./serve.js";
import { registerAdminCommands } from "./admin.js";
import { registerCardCommands } from "./card.js";
import { registerEnrollCommand, registerRenewCommand } from "./enroll.js";
import { registerRequestsCommands } from "./requests.js";
import { registerUnblockCommand } from "./unblock.js";
import { registerHelpdeskCommands } from "./helpdesk.js";
import { registerProfileCommands } from "./profile.js";

const program = new Command();
program
  .name("openclm")
  .description("OpenCLM — certificate lifecycle and smart card management (MIM CM REST API v1.0)")
  .version("0.1.0");
registerServeCommand(program);
registerAdminCommands(program);
registerEnrollCommand(program);
registerCardCommands(program);
registerRenewCommand(program);
registerUnblockCommand(program);
registerRequestsCommands(program);
registerHelpdeskCommands(program);
registerProfileCommands(program);
await program.parseAsync(process.argv);
