import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { type ServiceProcess, startServiceProcess } from '@storefront/testing';

type Service = 'catalog' | 'order' | 'notifier';

/** One named instance slot (catalog-1, …) with a fixed port. */
interface Slot {
  name: string;
  service: Service;
  port: number;
  process?: ServiceProcess;
}

/**
 * Starts, kills and restarts the demo's service processes on fixed ports, writing each
 * one's JSON log to `<logDir>/<name>.log`. Every process it started is stopped by pid.
 */
export class Supervisor {
  readonly #slots: Slot[] = [];

  constructor(
    private readonly entry: (service: Service) => string,
    private readonly env: (service: Service) => Record<string, string>,
    private readonly logDir: string,
  ) {}

  add(name: string, service: Service, port: number): void {
    this.#slots.push({ name, service, port });
  }

  get slots(): readonly Slot[] {
    return this.#slots;
  }

  slot(name: string): Slot {
    const slot = this.#slots.find((s) => s.name === name);
    if (!slot) throw new Error(`no instance named ${name}`);
    return slot;
  }

  /** Start one slot's process (again). */
  async start(name: string): Promise<ServiceProcess> {
    const slot = this.slot(name);
    const proc = await startServiceProcess({
      entry: this.entry(slot.service),
      env: { ...this.env(slot.service), PORT: String(slot.port) },
    });
    const log = createWriteStream(join(this.logDir, `${name}.log`), { flags: 'a' });
    proc.child.stdout?.pipe(log);
    proc.child.stderr?.pipe(log);
    slot.process = proc;
    return proc;
  }

  /** The instance id a slot's current process registered with (from its logs). */
  instanceId(name: string): string | undefined {
    const id = this.slot(name).process?.logs.find((l) => l.instanceId)?.instanceId;
    return typeof id === 'string' ? id : undefined;
  }

  /** SIGKILL a slot's process (as a crash would). */
  async kill(name: string): Promise<void> {
    await this.slot(name).process?.stop('SIGKILL');
  }

  /** The slot whose current process has this instance id. */
  byInstanceId(instanceId: string): Slot | undefined {
    return this.#slots.find((s) => this.instanceId(s.name) === instanceId);
  }

  isRunning(name: string): boolean {
    const child = this.slot(name).process?.child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  /** SIGTERM everything still running and wait for it. */
  async stopAll(): Promise<void> {
    await Promise.all(this.#slots.filter((s) => this.isRunning(s.name)).map((s) => s.process?.stop('SIGTERM')));
  }
}
