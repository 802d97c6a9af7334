// tap's `before` hook: make sure the local environment runs before any test file starts.
// Quick when it already runs; starts it (and builds on the very first run) otherwise.

import { EnvError } from './errors.js';
import { handleInterrupts, up } from './local-env.js';

// The AWS SDK's notice that its 2027 releases need Node 22 is noise in this tool's output.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

handleInterrupts();
try {
  const { state, reused } = await up();
  process.stderr.write(
    `# local environment ${reused ? 'reused' : 'started'}: kube-apiserver ${state.kubernetesVersion} at ${state.apiserverUrl}, moto at ${state.aws.endpoint}\n`,
  );
} catch (err) {
  process.stderr.write(`error: ${err instanceof EnvError ? err.message : String((err as Error).stack ?? err)}\n`);
  process.exit(1);
}
