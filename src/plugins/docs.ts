import swagger from '@fastify/swagger';
import swaggerUi, { type FastifySwaggerUiOptions } from '@fastify/swagger-ui';
import fp from 'fastify-plugin';
import { Evaluation } from '../schemas/cases.js';
import { ErrorBody } from '../schemas/common.js';
import { REQUEST_ID_MEANING } from '../http/request-id.js';
import { fileErrorHandler } from '../http/static-file-error.js';
import { shapeOpenApi } from '../schemas/openapi-shape.js';
import { downloadUrl, keepResponseOrder } from './docs-response-order.js';
import { bundleExamples, crossingExample, crossingProbes, exampleMarking, probeInputs, writtenExamplesFit, type RequestExamples } from '../schemas/bundle-examples.js';
import { rowFromRequest } from '../scoring/inputs.js';
import { labelOf } from '../scoring/net.js';
import { PETRASCORE_VERSION } from '../version.js';

/**
 * @fastify/swagger-ui's policy with inline styles allowed (a hash beside 'unsafe-inline' would void it), fonts and
 * images from this server only (its default allows any https: font and the swagger.io validator's badge), no upgrade.
 */
const DOCS_DIRECTIVES: Record<string, string> = {
  'style-src': "style-src 'self' 'unsafe-inline'",
  'font-src': "font-src 'self' data:",
  'img-src': "img-src 'self' data:",
};


function docsPolicy(header: string): string {
  return header
    .split(';')
    .map((directive) => directive.trim())
    .filter((directive) => directive !== '' && directive !== 'upgrade-insecure-requests')
    .map((directive) => DOCS_DIRECTIVES[directive.split(' ')[0]!] ?? directive)
    .join('; ');
}

const swaggerUiOptions: FastifySwaggerUiOptions = {
  routePrefix: '/docs',
  uiConfig: { docExpansion: 'list', deepLinking: true, plugins: [downloadUrl, keepResponseOrder] },
  // A Content-Security-Policy on /docs: scripts only Swagger UI's own files, styles its own and the inline ones
  // React sets as it renders, nothing from elsewhere. Not the default's upgrade-insecure-requests, which would
  // send "Try it out" to https:// on a service served over plain HTTP.
  staticCSP: true,
  transformStaticCSP: docsPolicy,
};

/** The OpenAPI document is generated from the routes' TypeBox schemas; Swagger UI serves it at /docs. */
export const docsPlugin = fp(
  async (app) => {
    let examples: RequestExamples | undefined;
    // The named components routes refer to (the live events' are the live plugin's).
    app.addSchema(ErrorBody);
    app.addSchema(Evaluation);
    await app.register(swagger, {
      openapi: {
        openapi: '3.0.3',
        info: {
          title: 'petrascore',
          version: PETRASCORE_VERSION,
          description:
            'Scores workflow traces with a PETRA model exported to ONNX: webhook scoring (/anomaly), streaming cases (/cases), ' +
            'raw forward passes (/forward). Scores equal PETRA\'s to 1e-5. Errors are JSON `{error, message, details}`; an unknown path is a 404 ' +
            '`not_found` and a method a path does not take a 405 `method_not_allowed` with an `Allow` header, whatever the body. ' +
            'The request examples fit the bundle this server loaded: written for the default bundle (loan_approval: place p_application, ' +
            'transitions t_approve and t_decline), made at startup from any other bundle\'s places, specs and expected events; ' +
            'GET /schema tells the places, transitions and attributes of the bundle this server loaded. ' +
            `Every answer carries an \`x-request-id\` header: ${REQUEST_ID_MEANING}.`,
        },
        tags: [
          { name: 'scoring', description: 'stateless scoring, PETRA REST compatible' },
          { name: 'streaming', description: "PETRA's StreamingEvaluator over HTTP" },
          { name: 'live', description: 'typed event feed (Server-Sent Events) and the dashboard' },
          { name: 'diagnostics', description: "PETRA's auditor endpoints, over forward passes of the ONNX graph" },
          { name: 'service', description: 'health, readiness, metrics and the model schema' },
        ],
      },
      refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
      // `examples` is read when the document is first built, which is after onReady (Swagger UI asks for it then).
      transformObject: (document) => ('openapiObject' in document ? shapeOpenApi(document.openapiObject, examples) : document.swaggerObject),
    });
    // In a context of its own, for its error handler: what its file server refuses (/docs/static/%00) is said in words
    // as the dashboard's is, not as the file server's bare reason phrase.
    await app.register(async (ui) => {
      ui.setErrorHandler(fileErrorHandler('Swagger UI'));
      await ui.register(swaggerUi, swaggerUiOptions);
    });
    // Once every plugin is up (the model included): the examples a bundle other than the default one needs, with the
    // events its model expects at the examples' marking, and a counterfactual that finds a crossing, from forward passes.
    app.addHook('onReady', async () => {
      const net = app.petra.net;
      if (writtenExamplesFit(net)) return;
      try {
        const forward = (request: Parameters<typeof rowFromRequest>[1]) => app.petra.scorer.forward(rowFromRequest(net, request).row);
        const activations = await forward({ input_marking: exampleMarking(net) });
        // The probes' passes are requested together, so the batcher runs them in one or a few runs.
        const probes = crossingProbes(net);
        const probed = await Promise.all(probes.map((probe) => Promise.all(probe.points.map((value) => forward(probeInputs(probe, value))))));
        examples = bundleExamples(net, net.outputs.flatMap((t) => ((activations[t] ?? 0) > 0.5 ? [labelOf(net, t)] : [])), crossingExample(net, probes, probed));
      } catch (error) {
        // Documentation is not worth a failed start: the warm-up has run the model already, and /docs keeps the written examples.
        app.log.warn({ err: error }, "Swagger UI's examples stay the default bundle's: the forward pass to make this bundle's failed");
      }
    });
  },
  { name: 'docs' },
);
