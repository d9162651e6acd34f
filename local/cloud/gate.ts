// A gate tests close to freeze one kind of request mid-flight (an agent killed during a pull or
// a login): while closed, `passed()` waits; `close()` returns the function that opens it again.
export class Gate {
  private closed: Promise<void> | undefined;

  close(): () => void {
    let open!: () => void;
    this.closed = new Promise((r) => (open = r));
    return () => {
      this.closed = undefined;
      open();
    };
  }

  /** Resolves at once while open, else when opened. */
  async passed(): Promise<void> {
    if (this.closed) await this.closed;
  }
}
