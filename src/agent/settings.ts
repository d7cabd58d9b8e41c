// The settings in force on this node and the input they make, as sources report them. Whoever
// needs them subscribes (the agent, the BGP switch, the cluster source); a source can report
// before any subscriber exists, so nothing is built before the first settings are known.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { SourceProblem } from '../api/views.ts';
import type { AgentConfig } from '../config/index.ts';
import type { AgentInput } from './agent.ts';
import type { DesiredInput } from './desired.ts';
import { inputFromCluster, inputFromConfig } from './node-input.ts';
import { reuseUnchangedSpecs } from '../model/index.ts';

export interface SettingsEvents {
  /** New settings, before the input is rebuilt from them (sources that shape the input take them here). */
  config: [config: AgentConfig];
  /** A new input for the agent. */
  input: [input: AgentInput];
  /** New settings were refused; the last good ones keep serving. */
  refused: [message: string];
  /** The `bgp` section of new settings, after the input was rebuilt (undefined: removed or absent). */
  bgp: [section: AgentConfig['bgp']];
}

export interface SettingsOptions {
  readonly log: Logger;
  /** Services from the cluster (the input waits for the cluster's first view) or from the file. */
  readonly fromKubernetes: boolean;
  /** Where the node's settings come from, for the log: the file, or 'the LBNodeConfig'. */
  readonly from: string;
  /** What only this node can check (its interfaces against the l2 section): a message refuses the settings. */
  readonly check?: (config: AgentConfig) => string | undefined;
}

const problemKey = (p: SourceProblem): string => `${p.object}\n${p.message}`;

export class AgentSettings extends EventEmitter<SettingsEvents> {
  #config: AgentConfig | undefined;
  #cluster: DesiredInput | undefined;
  #input: AgentInput | undefined;
  #leftOut: readonly SourceProblem[] = [];
  /** Settings changes applied and refused since the start (`vipgate_config_reloads_total`). */
  readonly reloads = { applied: 0, refused: 0 };

  constructor(private readonly options: SettingsOptions) {
    super();
  }

  get config(): AgentConfig | undefined {
    return this.#config;
  }
  get input(): AgentInput | undefined {
    return this.#input;
  }
  /** Objects the cluster source left out, for `vipgate status` / `service list`. */
  get leftOut(): readonly SourceProblem[] {
    return this.#leftOut;
  }

  /** The settings the node starts with (unless a change already came in meanwhile). */
  initial(config: AgentConfig): void {
    this.#config ??= config;
  }

  changed(config: AgentConfig): void {
    const { log, from } = this.options;
    const problem = this.options.check?.(config);
    if (problem !== undefined) {
      this.refused(problem);
      return;
    }
    this.reloads.applied += 1;
    log.info({ from }, 'settings changed; reconciling');
    if (this.#config !== undefined && this.#config.dataplane.engine !== config.dataplane.engine) {
      log.warn('dataplane.engine changed: restart the agent to switch engines');
    }
    this.#config = config;
    this.emit('config', config);
    this.publish();
    this.emit('bgp', config.bgp);
  }

  refused(message: string): void {
    this.reloads.refused += 1;
    this.options.log.error({ from: this.options.from }, `settings refused; the last good ones keep serving:\n${message}`);
    this.emit('refused', message);
  }

  /** The cluster's latest view, and the objects it left out. */
  clusterChanged(input: DesiredInput, problems: readonly SourceProblem[]): void {
    // Said once per object and reason (every input event repeats them).
    const before = new Set(this.#leftOut.map(problemKey));
    for (const p of problems) if (!before.has(problemKey(p))) this.options.log.warn({ object: p.object }, `a Kubernetes object was left out: ${p.message}`);
    this.#leftOut = problems;
    this.#cluster = input;
    this.publish();
  }

  /** Rebuilds the input from the settings (and the cluster's view) and hands it on. */
  publish(): void {
    const config = this.#config;
    if (config === undefined) return;
    if (!this.options.fromKubernetes) {
      const input = inputFromConfig(config);
      const services = reuseUnchangedSpecs(new Map(this.#input?.services.map((s) => [s.key, s])), input.services);
      this.#input = { ...input, services };
    }
    else if (this.#cluster === undefined) return;
    else this.#input = inputFromCluster(this.#cluster, config);
    this.emit('input', this.#input);
  }
}
