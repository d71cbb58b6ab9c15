// The admission function's webhooks folder, for the tests and test helpers under lib/ that run the
// shipped webhooks (lib/ itself never names functions/: the CLI gets the folder from bin/posture.ts).
export { WEBHOOKS_DIR } from '../functions/admission/webhooks-dir.ts';
