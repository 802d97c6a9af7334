// An EnvError is a failure the user can act on: its message is one line saying what is wrong
// and how to fix it. The CLI prints it as-is, without a stack trace.

export class EnvError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnvError';
  }
}
