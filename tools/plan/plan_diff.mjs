// Offline counterpart of `cdk diff`: compares two synthesized templates with the CDK's own diff engine,
// which knows from the CloudFormation resource specification which property changes replace a resource.
// Usage: node plan_diff.mjs BASELINE.json TEMPLATE.json [...]  -> a JSON list of plans on stdout (tools/plan/diff.py).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

// cloudformation-diff is CommonJS; a CommonJS require also honours NODE_PATH, which plan.py sets to the
// repository's node_modules in case this file is run from somewhere else.
const require = createRequire(import.meta.url);
const { fullDiff, ResourceImpact } = require('@aws-cdk/cloudformation-diff');

const ACTIONS = {
  [ResourceImpact.WILL_CREATE]: 'added',
  [ResourceImpact.WILL_UPDATE]: 'modified',
  [ResourceImpact.WILL_REPLACE]: 'replaced',
  [ResourceImpact.MAY_REPLACE]: 'may-replace',
  [ResourceImpact.WILL_DESTROY]: 'removed',
  [ResourceImpact.WILL_ORPHAN]: 'removed',
  // Only reachable when the resource is different but none of its changed properties is in the
  // specification (see below), so the engine cannot tell more than "it changed".
  [ResourceImpact.NO_CHANGE]: 'modified',
};

function fail(message) {
  process.stderr.write(`plan_diff: ${message}\n`);
  process.exit(2);
}

function readTemplate(path) {
  let text;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    fail(`cannot read ${path}: ${err.message}`);
  }
  let template;
  try {
    template = JSON.parse(text);
  } catch (err) {
    fail(`${path} is not JSON: ${err.message}`);
  }
  if (template === null || typeof template !== 'object' || Array.isArray(template)) {
    fail(`${path} is not a CloudFormation template (expected a JSON object)`);
  }
  // CDKMetadata only records the CDK version and construct list for AWS's usage analytics; it changes
  // with almost every edit and deploys nothing, so diffing it would only bury the real changes.
  delete template.Resources?.CDKMetadata;
  return template;
}

function describeResource(logicalId, change) {
  const old = change.oldValue ?? {};
  const properties = Object.entries(change.propertyUpdates).map(([name, diff]) => ({
    name,
    // A changed property the specification does not know gets NO_CHANGE from the engine; say UNKNOWN
    // instead of claiming that nothing changed.
    impact: diff.changeImpact === ResourceImpact.NO_CHANGE ? 'UNKNOWN' : (diff.changeImpact ?? 'UNKNOWN'),
    oldValue: diff.oldValue ?? null,
    newValue: diff.newValue ?? null,
  }));
  if (change.resourceTypeChanged) {
    // CloudFormation cannot change a resource's type in place; the engine reports this as a replacement
    // without any property to blame, so name the type itself as the cause.
    properties.unshift({ name: 'Type', impact: ResourceImpact.WILL_REPLACE, oldValue: change.oldResourceType, newValue: change.newResourceType });
  }
  return {
    logicalId,
    type: change.newResourceType ?? change.oldResourceType,
    oldType: change.oldResourceType ?? null,
    action: ACTIONS[change.changeImpact] ?? fail(`unexpected impact ${change.changeImpact} on ${logicalId}`),
    impact: change.changeImpact,
    properties,
    // Resource attributes outside Properties (DeletionPolicy, UpdateReplacePolicy, DependsOn, Metadata...).
    otherChanges: Object.entries(change.otherChanges).map(([name, diff]) => ({
      name,
      oldValue: diff.oldValue ?? null,
      newValue: diff.newValue ?? null,
    })),
    // The policies in force on the existing resource decide what a removal or replacement does to it.
    deletionPolicy: old.DeletionPolicy ?? null,
    updateReplacePolicy: old.UpdateReplacePolicy ?? null,
    orphaned: change.changeImpact === ResourceImpact.WILL_ORPHAN,
    // A read replica holds no data of its own: its source has all of it.
    readReplica: Boolean((change.oldValue ?? change.newValue)?.Properties?.SourceDBInstanceIdentifier),
    // The whole new definition: a rule about one property may depend on another that did not change.
    newProperties: change.newValue?.Properties ?? null,
  };
}

function outputAction(change) {
  if (change.isAddition) return 'added';
  if (change.isRemoval) return 'removed';
  return 'modified';
}

function planOf(baselinePath, templatePath) {
  const diff = fullDiff(readTemplate(baselinePath), readTemplate(templatePath));
  const resources = [];
  diff.resources.forEachDifference((logicalId, change) => {
    resources.push(describeResource(logicalId, change));
  });
  const outputs = [];
  diff.outputs.forEachDifference((name, change) => {
    outputs.push({ name, action: outputAction(change) });
  });
  return { resources, outputs };
}

// Several pairs in one run: starting node costs more than a diff, and make plan compares every profile.
const args = process.argv.slice(2);
if (args.length === 0 || args.length % 2 !== 0) {
  fail('usage: node plan_diff.mjs BASELINE.json TEMPLATE.json [BASELINE.json TEMPLATE.json ...]');
}
const plans = [];
for (let i = 0; i < args.length; i += 2) {
  plans.push(planOf(args[i], args[i + 1]));
}
process.stdout.write(`${JSON.stringify(plans, null, 2)}\n`);
