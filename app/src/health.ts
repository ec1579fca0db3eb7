export type LifecycleState = 'starting' | 'ready' | 'draining';

/** Shared lifecycle state: the readiness route reads it, startup and shutdown write it. */
export class Health {
  state: LifecycleState = 'starting';

  get ready(): boolean {
    return this.state === 'ready';
  }
}
