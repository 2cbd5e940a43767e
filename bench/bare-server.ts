/**
 * The stack's ceiling: Fastify on this machine answering every POST with one fixed JSON body (the size of a real
 * /anomaly answer), after parsing the request body as JSON like the service does, with no validation and no model.
 */
import Fastify from 'fastify';

const [port, bodyText] = process.argv.slice(2) as [string, string];
const app = Fastify({ logger: false });
app.post('/*', async (_request, reply) => reply.type('application/json; charset=utf-8').send(bodyText));
const address = await app.listen({ host: '127.0.0.1', port: Number(port) });
process.stdout.write(`listening ${address}\n`);
