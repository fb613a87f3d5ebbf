// What every route module is given: the stores and services, built once in platform.ts.
import type { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import type { Config } from '../workers/config.js';
import type { Db } from '../db/index.js';
import type { Account, AccountStore } from '../db/accounts.js';
import type { WorkerStore } from '../db/workers.js';
import type { LoginLimiter } from './login-limiter.js';
import type { TaskService } from './task-service.js';
import type { SessionService } from './session-service.js';

export interface AppDeps {
  config: Config;
  hashKey: string;
  db: Db;
  accounts: AccountStore;
  /** The host registry: worker credentials and what each worker last reported. */
  workers: WorkerStore;
  loginLimiter: LoginLimiter;
  tasks: TaskService;
  sessions: SessionService;
  client: Client;
  connection: NativeConnection;
}

export interface AppState {
  account?: Account;
  /** The bearer token, kept only to hand to MCP handlers as their auth info; never logged. */
  token?: string;
  /** The runtime worker calling the registry, proven by its credential. */
  workerId?: string;
}
