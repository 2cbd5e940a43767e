#!/usr/bin/env node
import { EXIT } from './exit-codes.js';
import { carryOnWhenStderrFails, quietWhenStdoutCloses } from './standard-streams.js';

const USAGE = `Usage: petrascore <command> [options]
       petrascore BUNDLE.onnx [options]     (serve is the default command: a bundle
       petrascore --option … [BUNDLE.onnx]   or an option first means serve)

Commands:
  serve [BUNDLE.onnx]   serve a PETRA ONNX bundle over HTTP (petrascore serve --help)
  score BUNDLE.onnx --traces FILE
                        score an audit log (CSV, XES, JSON) like petra-score (petrascore score --help)
  inspect BUNDLE.onnx   print what a bundle expects (inputs, defaults, specs, scored transitions)
  validate BUNDLE.onnx  load a bundle and run one inference: exit 0, or 1 with the reasons

Run 'petrascore <command> --help' (or 'petrascore help <command>') for a command's options;
'petrascore --version' prints the version.`;

type Command = (argv: readonly string[]) => Promise<number>;

// Loaded on demand: `score` need not pay for Fastify and Swagger at start-up, nor `serve` for the log parsers.
const commands: Record<string, () => Promise<Command>> = {
  serve: async () => (await import('./serve.js')).serve,
  score: async () => (await import('./score.js')).score,
  inspect: async () => (await import('./inspect.js')).inspect,
  validate: async () => (await import('./inspect.js')).validate,
};

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) {
    process.stderr.write(`petrascore: no command given\n\n${USAGE}\n`);
    return EXIT.usage;
  }
  if (command === '--version' || command === '-V' || command === 'version') {
    quietWhenStdoutCloses();
    process.stdout.write(`petrascore ${(await import('../version.js')).PETRASCORE_VERSION}\n`);
    return EXIT.ok;
  }
  // `help serve` as `serve --help`; help for a command there is not is the same mistake as running it.
  if (command === 'help' && rest[0] !== undefined) {
    if (Object.hasOwn(commands, rest[0])) return (await commands[rest[0]]!())(['--help']);
    process.stderr.write(`petrascore: no help for '${rest[0]}': there is no such command\n\n${USAGE}\n`);
    return EXIT.usage;
  }
  if (command === '--help' || command === '-h' || command === 'help') {
    quietWhenStdoutCloses();
    process.stdout.write(`${USAGE}\n`);
    return EXIT.ok;
  }
  // serve is the default command: options or a bundle first (`petrascore --port 9000`, `docker run petrascore
  // /bundle/model.onnx`, which replaces the image's CMD) mean `serve` with them.
  if (command.startsWith('-') || command.endsWith('.onnx')) return (await commands.serve!())(argv);
  const load = Object.hasOwn(commands, command) ? commands[command] : undefined;
  if (load === undefined) {
    process.stderr.write(`petrascore: unknown command '${command}'\n\n${USAGE}\n`);
    return EXIT.usage;
  }
  return (await load())(rest);
}

carryOnWhenStderrFails();
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Let pino flush; anything still holding the loop open after a clean stop is not ours to wait for.
    setTimeout(() => process.exit(code), 50).unref();
  },
  (error: unknown) => {
    process.stderr.write(`petrascore: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(EXIT.failure);
  },
);
