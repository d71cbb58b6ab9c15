// The real tools the tests run beside the control plane, built by build-tools.sh from the Go
// module proxy into the cache (one folder per name and version, never in the repository):
// kustomize, the Scorecard CLI (three versions) and Knative Eventing's source adapters.
// A missing tool is a failure with the command that builds it, never a skipped test.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { cacheDir } from './config.ts';

export const KUSTOMIZE_VERSION = process.env.POSTURE_KUSTOMIZE_VERSION ?? 'v5.8.3';
/** The Scorecard versions the tests run: before and after v5.4.0's `Skipping` behaviour. */
export const SCORECARD_VERSIONS = (process.env.POSTURE_SCORECARD_VERSIONS ?? 'v5.3.0 v5.4.0 v5.5.0').split(/\s+/).filter(Boolean);
export const KNATIVE_EVENTING_VERSION = process.env.POSTURE_KNATIVE_EVENTING_VERSION ?? 'v0.50.0';

export const BUILD_TOOLS = path.join(path.dirname(new URL(import.meta.url).pathname), 'build-tools.sh');

function tool(folder: string, name: string): string {
  const file = path.join(cacheDir(), folder, 'bin', name);
  if (!existsSync(file)) throw new Error(`${file} is missing: build it with ${BUILD_TOOLS} (.ci/run does)`);
  return file;
}

export const kustomizeBin = (): string => tool(`kustomize-${KUSTOMIZE_VERSION}`, 'kustomize');
export const scorecardBin = (version: string): string => tool(`scorecard-${version}`, 'scorecard');
export const apiServerSourceAdapterBin = (): string => tool(`knative-eventing-${KNATIVE_EVENTING_VERSION}`, 'apiserver_receive_adapter');
export const pingSourceAdapterBin = (): string => tool(`knative-eventing-${KNATIVE_EVENTING_VERSION}`, 'mtping');
