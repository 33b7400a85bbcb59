import { Context, consumerNameSchema, deadLetterContracts, deadLetterSchema } from '@tessera/contracts';
import { type CommandSet, defineCommand } from '../command/define-command.js';
import { commaList, matching, oneOf, optional, required } from '../command/options.js';
import { record, table } from '../command/output.js';
import { ExitCode } from '../exit-codes.js';

// Every context's service answers the same two dead-letter RPCs (the platform serves them for
// each service that runs consumers), so one pair of commands covers services not written yet.
const contextOption = oneOf('--context <context>', "the service's context", Object.values(Context));

const list = defineCommand({
  path: ['dead-letters', 'list'],
  summary: 'events a service’s consumers parked because they cannot apply as they are',
  examples: [
    'tessera dead-letters list --context billing',
    'tessera dead-letters list --context chain --consumer chain-indexer-watched-addresses',
  ],
  options: {
    context: contextOption,
    consumer: optional('--consumer <name>', 'only this consumer’s', matching(consumerNameSchema)),
  },
  async run(values, { call }) {
    const { deadLetters } = await call(deadLetterContracts(values.context).list, {
      ...(values.consumer === undefined ? {} : { consumer: values.consumer }),
    });
    return {
      json: { deadLetters },
      text: table(
        deadLetters,
        [
          ['ID', (letter) => letter.id],
          ['CONSUMER', (letter) => letter.consumer],
          ['SEQUENCE', (letter) => `${letter.sequence}/${letter.eventIndex}`],
          ['EVENT', (letter) => letter.eventType],
          ['ERROR', (letter) => letter.errorCode],
          ['ATTEMPTS', (letter) => letter.attempts],
          ['PARKED AT', (letter) => letter.parkedAt],
          ['REASON', (letter) => letter.reason],
        ],
        'no dead letters',
      ),
    };
  },
});

const replay = defineCommand({
  path: ['dead-letters', 'replay'],
  summary: 're-drive parked events through their consumer (after a fix); those that apply are removed',
  details: 'Exits 3 when some still fail; they stay parked with the new reason.',
  examples: [
    'tessera dead-letters replay --context billing --consumer billing-deposit-crediting',
    'tessera dead-letters replay --context billing --consumer billing-deposit-crediting --ids 12,13',
  ],
  options: {
    context: contextOption,
    consumer: required(
      '--consumer <name>',
      'the consumer whose dead letters to replay',
      matching(consumerNameSchema),
    ),
    ids: optional(
      '--ids <list>',
      'only these ids (comma-separated); all of the consumer’s when left out',
      commaList(matching(deadLetterSchema.shape.id)),
    ),
  },
  async run(values, { call }) {
    const result = await call(deadLetterContracts(values.context).replay, {
      consumer: values.consumer,
      ...(values.ids === undefined ? {} : { ids: values.ids }),
    });
    const text = [
      record([
        ['replayed', result.replayed.length === 0 ? 'none' : result.replayed.join(', ')],
        ['still failing', result.failed.length],
      ]),
      ...(result.failed.length === 0
        ? []
        : [
            '',
            table(
              result.failed,
              [
                ['ID', (failure) => failure.id],
                ['ERROR', (failure) => failure.errorCode],
                ['REASON', (failure) => failure.reason],
              ],
              '',
            ),
          ]),
    ].join('\n');
    return {
      json: result,
      text,
      exitCode: result.failed.length === 0 ? ExitCode.ok : ExitCode.problemsFound,
    };
  },
});

/** Dead letters of any context's service. */
export const deadLetterCommandSet: CommandSet = {
  groups: [{ name: 'dead-letters', summary: 'list and replay the events a service parked' }],
  commands: [list, replay],
};
