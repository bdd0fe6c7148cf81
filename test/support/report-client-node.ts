// Loaded with --import into a child process: writes to stderr each module of
// @kubernetes/client-node the process resolves, for the tests that serve never loads it.
import { registerHooks } from 'node:module';

registerHooks({
  resolve(specifier, context, nextResolve) {
    const resolved = nextResolve(specifier, context);
    if (resolved.url.includes('/node_modules/@kubernetes/client-node/')) {
      process.stderr.write(`client-node module: ${resolved.url}\n`);
    }
    return resolved;
  },
});
