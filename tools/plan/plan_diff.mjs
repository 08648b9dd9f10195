// Offline counterpart of `cdk diff`: compares two synthesized templates with the CDK's own diff engine,
// which knows from the CloudFormation resource specification which property changes replace a resource.
// Usage: node plan_diff.mjs BASELINE.json TEMPLATE.json [...]  -> a JSON list of plans on stdout (tools/plan/diff.py).
//        node plan_diff.mjs --may-replace TYPE [...]          -> each type's "may replace" properties.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

// cloudformation-diff is CommonJS; a CommonJS require also honours NODE_PATH, which plan.py sets to the
// repository's node_modules in case this file is run from somewhere else.
const require = createRequire(import.meta.url);
const { fullDiff, ResourceImpact } = require('@aws-cdk/cloudformation-diff');
const { loadResourceModel } = require('@aws-cdk/cloudformation-diff/lib/diff/util');

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

// The value with every reference to a replaced resource marked, exactly where the engine marks them
// (diff-template.js, propagateReplacedReferences): a Ref, or a function whose first argument is the resource
// (Fn::GetAtt); it does not look inside any other function.
function markReplaced(value, replaced) {
  if (Array.isArray(value)) return value.map((item) => markReplaced(item, replaced));
  if (value === null || typeof value !== 'object') return value;
  const keys = Object.keys(value);
  if (keys.length === 1 && keys[0] === 'Ref') {
    return replaced.has(value.Ref) ? { Ref: `${value.Ref} (replaced)` } : value;
  }
  if (keys.length === 1 && keys[0].startsWith('Fn::')) {
    const args = value[keys[0]];
    const marked = Array.isArray(args) && args.length > 0 && replaced.has(args[0]);
    return marked ? { [keys[0]]: [`${args[0]}(replaced)`, ...args.slice(1)] } : value;
  }
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, markReplaced(item, replaced)]));
}

const SPEC_IMPACTS = { yes: ResourceImpact.WILL_REPLACE, maybe: ResourceImpact.MAY_REPLACE };

// The engine copies a property that refers to a replaced resource into its diff only when that changes the resource's
// impact: a resource that may be replaced already because of another property does not list a "may replace" property
// whose referent is replaced. The gate decides each "may replace" property on its own, so every one is listed.
function referencesToReplaced(change, replaced) {
  const type = change.newResourceType;
  const properties = change.newValue?.Properties ?? {};
  if (!type || type !== change.oldResourceType || replaced.size === 0) return [];
  const model = loadResourceModel(type);
  // As the engine's own propagation, only properties whose change replaces or may replace the resource.
  return Object.entries(properties)
    .filter(([name]) => !(name in change.propertyUpdates) && SPEC_IMPACTS[model?.properties?.[name]?.causesReplacement])
    .map(([name, value]) => [name, value, markReplaced(value, replaced)])
    .filter(([, value, marked]) => JSON.stringify(marked) !== JSON.stringify(value))
    .map(([name, value, marked]) => ({
      name,
      impact: SPEC_IMPACTS[model.properties[name].causesReplacement],
      oldValue: change.oldValue?.Properties?.[name] ?? null,
      newValue: marked,
    }));
}

function describeResource(logicalId, change, replaced) {
  const old = change.oldValue ?? {};
  const properties = Object.entries(change.propertyUpdates).map(([name, diff]) => ({
    name,
    // A changed property the specification does not know gets NO_CHANGE from the engine; say UNKNOWN
    // instead of claiming that nothing changed.
    impact: diff.changeImpact === ResourceImpact.NO_CHANGE ? 'UNKNOWN' : (diff.changeImpact ?? 'UNKNOWN'),
    oldValue: diff.oldValue ?? null,
    newValue: diff.newValue ?? null,
  }));
  properties.push(...referencesToReplaced(change, replaced));
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
  // The engine propagates replacements through references until nothing changes, so this set is complete.
  const replaced = new Set();
  diff.resources.forEachDifference((logicalId, change) => {
    if (change.changeImpact === ResourceImpact.WILL_REPLACE) replaced.add(logicalId);
  });
  const resources = [];
  diff.resources.forEachDifference((logicalId, change) => {
    resources.push(describeResource(logicalId, change, replaced));
  });
  const outputs = [];
  diff.outputs.forEachDifference((name, change) => {
    outputs.push({ name, action: outputAction(change) });
  });
  return { resources, outputs };
}

// The properties of each resource type that the resource specification marks "may replace" (the registry schema's
// conditionalCreateOnlyProperties): the engine reports MAY_REPLACE for any change to them, and the gate's rule table
// (diff.py, RULES) decides from CloudFormation's documentation which changes replace. The tests check it covers them.
function mayReplace(types) {
  const result = {};
  for (const type of types) {
    const model = loadResourceModel(type) ?? fail(`the resource specification has no ${type}`);
    result[type] = Object.entries(model.properties)
      .filter(([, spec]) => spec.causesReplacement === 'maybe')
      .map(([name]) => name)
      .sort();
  }
  return result;
}

const args = process.argv.slice(2);
if (args[0] === '--may-replace') {
  process.stdout.write(`${JSON.stringify(mayReplace(args.slice(1)), null, 2)}\n`);
  process.exit(0);
}
// Several pairs in one run: starting node costs more than a diff, and make plan compares every profile.
if (args.length === 0 || args.length % 2 !== 0) {
  fail('usage: node plan_diff.mjs BASELINE.json TEMPLATE.json [BASELINE.json TEMPLATE.json ...] | --may-replace TYPE...');
}
const plans = [];
for (let i = 0; i < args.length; i += 2) {
  plans.push(planOf(args[i], args[i + 1]));
}
process.stdout.write(`${JSON.stringify(plans, null, 2)}\n`);
