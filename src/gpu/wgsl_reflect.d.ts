// The module build of wgsl_reflect carries no types of its own; its types/ describe the same API.
declare module 'wgsl_reflect/wgsl_reflect.module.js' {
  export * from 'wgsl_reflect';
}
