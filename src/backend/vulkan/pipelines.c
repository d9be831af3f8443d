/* Shader variant choice, workgroup sizes, and compute pipeline creation. */
#include "backend/vulkan/pipelines.h"

#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "shaders.h"

static const char *kernel_names[QVK_KERNEL_COUNT] = {
    "embed", "rmsnorm", "qk_norm_rope", "matvec", "matmul", "attention", "attention_combine",
    "swiglu",
};

const char *qvk_vk_kernel_name(qvk_vk_kernel kernel)
{
    return kernel < QVK_KERNEL_COUNT ? kernel_names[kernel] : "unknown";
}

static bool kernel_has_dtypes(qvk_vk_kernel kernel)
{
    return kernel == QVK_KERNEL_EMBED || kernel == QVK_KERNEL_MATVEC || kernel == QVK_KERNEL_MATMUL;
}

static bool kernel_has_reduction(qvk_vk_kernel kernel)
{
    return kernel == QVK_KERNEL_RMSNORM || kernel == QVK_KERNEL_QK_NORM_ROPE ||
           kernel == QVK_KERNEL_MATVEC || kernel == QVK_KERNEL_ATTENTION;
}

static const char *dtype_suffix(qvk_dtype dtype)
{
    switch (dtype) {
    case QVK_DTYPE_F32: return "f32";
    case QVK_DTYPE_F16: return "f16";
    case QVK_DTYPE_BF16: return "bf16";
    }
    return "?";
}

/* The suffix of a kernel's reduction variant: subgroup, shared memory, or (matvec on CPU
 * devices) none at all. */
static const char *reduction_suffix(const qvk_vk_context *context, qvk_vk_kernel kernel)
{
    if (!kernel_has_reduction(kernel))
        return "";
    if (kernel == QVK_KERNEL_MATVEC && context->matvec_layout == QVK_VK_MATVEC_ROW)
        return "_row";
    return context->use_subgroups ? "_sg" : "_sh";
}

/* The embedded module of a kernel variant, e.g. "matvec_bf16_sg". In the texel layout both
 * matvec and matmul come from matvec_texel.comp, e.g. "matvec_texel_bf16_tokens". */
static const struct qvk_spirv_module *module_find(const qvk_vk_context *context,
                                                  qvk_vk_kernel kernel, qvk_dtype dtype,
                                                  char *name, size_t size)
{
    bool texel = context->matvec_layout == QVK_VK_MATVEC_TEXEL;

    if (texel && (kernel == QVK_KERNEL_MATVEC || kernel == QVK_KERNEL_MATMUL))
        snprintf(name, size, "matvec_texel_%s%s", dtype_suffix(dtype),
                 kernel == QVK_KERNEL_MATMUL ? "_tokens" : "");
    else
        snprintf(name, size, "%s%s%s%s", kernel_names[kernel],
                 kernel_has_dtypes(kernel) ? "_" : "",
                 kernel_has_dtypes(kernel) ? dtype_suffix(dtype) : "",
                 reduction_suffix(context, kernel));
    for (int i = 0; i < qvk_spirv_module_count; i++)
        if (strcmp(qvk_spirv_modules[i].name, name) == 0)
            return &qvk_spirv_modules[i];
    return NULL;
}

/* Workgroup sizes per device. On GPUs, workgroups of 64 to 128 invocations fill a few subgroups
 * and keep many workgroups resident, and a matvec workgroup reduces 2 rows at a time. In the
 * texel layout (CPU devices) a workgroup is one subgroup (one SIMD group on lavapipe): a decode
 * subgroup computes 16 rows, and a token-lane invocation 16 rows of 2 tokens. Of 4 to 32 rows,
 * 1 to 4 tokens and decode workgroups of 1 or 8 subgroups, these took the least time on
 * lavapipe at the Qwen3-4B shapes (2 shared cores, so only within about 10%).
 * The row layout computes a row per invocation (see matvec.comp).
 * NOTE: the GPU values are common defaults, not tuned on GPU hardware. */
static qvk_vk_kernel_sizes kernel_sizes(const qvk_vk_context *context)
{
    const qvk_vk_device_info *info = &context->info;
    const VkPhysicalDeviceLimits *limits = &info->properties.limits;
    qvk_vk_kernel_sizes sizes;
    bool cpu = info->properties.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
    bool texel = context->matvec_layout == QVK_VK_MATVEC_TEXEL;
    uint32_t max_wg = limits->maxComputeWorkGroupSize[0];

    if (limits->maxComputeWorkGroupInvocations < max_wg)
        max_wg = limits->maxComputeWorkGroupInvocations;
    sizes.workgroup = 64;
    sizes.matvec_workgroup = cpu ? 64 : 128;
    sizes.matvec_rows = 2;
    sizes.attention_block = 64;
    /* Every device offers at least 128 invocations per workgroup; the limits only lower the
     * larger choices. */
    if (sizes.matvec_workgroup > max_wg)
        sizes.matvec_workgroup = 64;
    sizes.matmul_workgroup = 0;
    sizes.matmul_rows = 0;
    sizes.matmul_tokens = 0;
    sizes.matmul = limits->maxComputeWorkGroupInvocations >= 256 &&
                   limits->maxComputeWorkGroupSize[0] >= 256 &&
                   limits->maxComputeSharedMemorySize >= 8192;
    if (texel) {
        /* matvec_layout_choose checked that one subgroup fits a workgroup. */
        sizes.matvec_workgroup = info->subgroup_size;
        sizes.matvec_rows = 16;
        sizes.matmul_workgroup = info->subgroup_size;
        sizes.matmul_rows = 16;
        sizes.matmul_tokens = 2;
        sizes.matmul = true;
    }
    return sizes;
}

static uint32_t kernel_workgroup(const qvk_vk_kernel_sizes *sizes, qvk_vk_kernel kernel)
{
    switch (kernel) {
    case QVK_KERNEL_MATVEC: return sizes->matvec_workgroup;
    case QVK_KERNEL_MATMUL: return sizes->matmul_workgroup ? sizes->matmul_workgroup
                                                           : sizes->workgroup;
    case QVK_KERNEL_ATTENTION: return sizes->attention_block;
    default: return sizes->workgroup;
    }
}

static qvk_status layouts_create(qvk_vk_pipelines *pipelines)
{
    VkDevice device = pipelines->context->device;
    VkDescriptorSetLayoutBinding bindings[QVK_VK_MAX_BINDINGS + 2];
    VkDescriptorSetLayoutCreateInfo set = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO };
    VkPushConstantRange push = { VK_SHADER_STAGE_COMPUTE_BIT, 0, QVK_VK_PUSH_BYTES };
    VkPipelineLayoutCreateInfo layout = { .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO };
    qvk_status status;

    for (uint32_t b = 0; b < QVK_VK_MAX_BINDINGS; b++)
        bindings[b] = (VkDescriptorSetLayoutBinding){
            b, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, NULL };
    pipelines->n_bindings = QVK_VK_MAX_BINDINGS;
    if (pipelines->context->matvec_layout == QVK_VK_MATVEC_TEXEL) {
        bindings[pipelines->n_bindings++] = (VkDescriptorSetLayoutBinding){
            QVK_VK_TEXEL_BINDING, VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, 1,
            VK_SHADER_STAGE_COMPUTE_BIT, NULL };
        bindings[pipelines->n_bindings++] = (VkDescriptorSetLayoutBinding){
            QVK_VK_TEXEL_INPUT_BINDING, VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, 1,
            VK_SHADER_STAGE_COMPUTE_BIT, NULL };
    }
    set.bindingCount = pipelines->n_bindings;
    set.pBindings = bindings;
    status = qvk_vk_check(pipelines->context,
                          vkCreateDescriptorSetLayout(device, &set, NULL, &pipelines->set_layout),
                          "vkCreateDescriptorSetLayout");
    if (status != QVK_OK)
        return status;
    layout.setLayoutCount = 1;
    layout.pSetLayouts = &pipelines->set_layout;
    layout.pushConstantRangeCount = 1;
    layout.pPushConstantRanges = &push;
    return qvk_vk_check(pipelines->context,
                        vkCreatePipelineLayout(device, &layout, NULL, &pipelines->layout),
                        "vkCreatePipelineLayout");
}

/* One pipeline to create: its module, stage info and specialization. */
typedef struct pipeline_job {
    qvk_vk_kernel kernel;
    qvk_dtype dtype;
    VkShaderModule module;
    uint32_t constants[3]; /* 0: workgroup size, 1: rows, 2: token rows per invocation */
    VkSpecializationMapEntry entries[3];
    VkSpecializationInfo specialization;
} pipeline_job;

static qvk_status job_prepare(qvk_vk_pipelines *pipelines, qvk_vk_kernel kernel, qvk_dtype dtype,
                              pipeline_job *job)
{
    VkShaderModuleCreateInfo create = { .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO };
    char name[64];
    const struct qvk_spirv_module *module = module_find(pipelines->context, kernel, dtype, name,
                                                        sizeof(name));
    if (!module)
        return qvk_error(QVK_ERR_UNSUPPORTED, "the shader module %s is not built into this "
                         "binary; rebuild qwen3vk", name);
    memset(job, 0, sizeof(*job));
    job->kernel = kernel;
    job->dtype = dtype;
    create.codeSize = module->size;
    create.pCode = module->code;
    job->constants[0] = kernel_workgroup(&pipelines->sizes, kernel);
    job->constants[1] = kernel == QVK_KERNEL_MATMUL ? pipelines->sizes.matmul_rows
                                                    : pipelines->sizes.matvec_rows;
    job->constants[2] = pipelines->sizes.matmul_tokens;
    /* A map entry for an ID the shader does not declare is ignored (Vulkan spec,
     * VkSpecializationMapEntry), so every kernel gets all three. */
    for (uint32_t c = 0; c < 3; c++)
        job->entries[c] = (VkSpecializationMapEntry){ c, c * sizeof(uint32_t), sizeof(uint32_t) };
    job->specialization.mapEntryCount = 3;
    job->specialization.pMapEntries = job->entries;
    job->specialization.dataSize = sizeof(job->constants);
    job->specialization.pData = job->constants;
    VkResult result = vkCreateShaderModule(pipelines->context->device, &create, NULL,
                                           &job->module);
    if (result != VK_SUCCESS)
        job->module = VK_NULL_HANDLE;
    return qvk_vk_check(pipelines->context, result, "vkCreateShaderModule");
}

/* The kernels to build: every non-weight kernel, the weight kernels per requested dtype. */
static int32_t jobs_list(const qvk_vk_pipelines *pipelines, const bool dtypes[QVK_VK_DTYPE_COUNT],
                         qvk_vk_kernel *kernels, qvk_dtype *kernel_dtypes)
{
    int32_t n = 0;
    for (int k = 0; k < QVK_KERNEL_COUNT; k++) {
        if (k == QVK_KERNEL_MATMUL && !pipelines->sizes.matmul)
            continue;
        for (int d = 0; d < QVK_VK_DTYPE_COUNT; d++) {
            if (kernel_has_dtypes((qvk_vk_kernel)k) ? !dtypes[d] : d > 0)
                continue;
            kernels[n] = (qvk_vk_kernel)k;
            kernel_dtypes[n] = (qvk_dtype)d;
            n++;
        }
    }
    return n;
}

static qvk_status pipelines_build(qvk_vk_pipelines *pipelines,
                                  const bool dtypes[QVK_VK_DTYPE_COUNT])
{
    enum { MAX_JOBS = QVK_KERNEL_COUNT * QVK_VK_DTYPE_COUNT };
    qvk_vk_kernel kernels[MAX_JOBS];
    qvk_dtype kernel_dtypes[MAX_JOBS];
    pipeline_job jobs[MAX_JOBS];
    VkComputePipelineCreateInfo creates[MAX_JOBS];
    VkPipeline created[MAX_JOBS];
    int32_t n = jobs_list(pipelines, dtypes, kernels, kernel_dtypes);
    int32_t n_prepared = 0;
    qvk_status status = QVK_OK;

    for (int32_t i = 0; i < n && status == QVK_OK; i++, n_prepared++)
        status = job_prepare(pipelines, kernels[i], kernel_dtypes[i], &jobs[i]);
    if (status == QVK_OK) {
        for (int32_t i = 0; i < n; i++) {
            VkComputePipelineCreateInfo *create = &creates[i];
            memset(create, 0, sizeof(*create));
            create->sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO;
            create->stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
            create->stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
            create->stage.module = jobs[i].module;
            create->stage.pName = "main";
            create->stage.pSpecializationInfo = &jobs[i].specialization;
            create->layout = pipelines->layout;
        }
        memset(created, 0, sizeof(created));
        double start = qvk_time_seconds();
        status = qvk_vk_check(pipelines->context,
                              vkCreateComputePipelines(pipelines->context->device,
                                                       pipelines->cache, (uint32_t)n, creates,
                                                       NULL, created),
                              "vkCreateComputePipelines");
        pipelines->create_seconds = qvk_time_seconds() - start;
        /* On failure the entries that failed are VK_NULL_HANDLE; the others are kept so that
         * qvk_vk_pipelines_destroy frees them. */
        for (int32_t i = 0; i < n; i++)
            pipelines->pipelines[jobs[i].kernel][jobs[i].dtype] = created[i];
        if (status == QVK_OK)
            pipelines->n_pipelines = n;
    }
    /* A failed prepare leaves its own module NULL; destroying VK_NULL_HANDLE is a no-op. */
    for (int32_t i = 0; i < n_prepared; i++)
        vkDestroyShaderModule(pipelines->context->device, jobs[i].module, NULL);
    return status;
}

qvk_status qvk_vk_pipelines_create(qvk_vk_context *context,
                                   const bool dtypes[QVK_VK_DTYPE_COUNT], qvk_vk_pipelines *out)
{
    qvk_status status;

    memset(out, 0, sizeof(*out));
    out->context = context;
    out->sizes = kernel_sizes(context);
    status = layouts_create(out);
    if (status == QVK_OK)
        status = qvk_vk_pipeline_cache_open(context, &out->cache, out->cache_path,
                                            sizeof(out->cache_path), &out->cache_warm);
    if (status == QVK_OK)
        status = pipelines_build(out, dtypes);
    if (status != QVK_OK) {
        qvk_vk_pipelines_destroy(out);
        return status;
    }
    qvk_vk_pipeline_cache_save(context, out->cache, out->cache_path, out->cache_warm);
    qvk_log_info("vulkan: %d pipelines in %.1f ms (%s pipeline cache%s%s)", out->n_pipelines,
                 out->create_seconds * 1e3, out->cache_warm ? "warm" : "cold",
                 out->cache_path[0] ? " " : "", out->cache_path);
    return QVK_OK;
}

VkPipeline qvk_vk_pipeline_get(const qvk_vk_pipelines *pipelines, qvk_vk_kernel kernel,
                               qvk_dtype dtype)
{
    return pipelines->pipelines[kernel][kernel_has_dtypes(kernel) ? dtype : 0];
}

void qvk_vk_pipelines_destroy(qvk_vk_pipelines *pipelines)
{
    VkDevice device;

    if (!pipelines->context)
        return;
    device = pipelines->context->device;
    for (int k = 0; k < QVK_KERNEL_COUNT; k++)
        for (int d = 0; d < QVK_VK_DTYPE_COUNT; d++)
            if (pipelines->pipelines[k][d] != VK_NULL_HANDLE)
                vkDestroyPipeline(device, pipelines->pipelines[k][d], NULL);
    if (pipelines->cache != VK_NULL_HANDLE)
        vkDestroyPipelineCache(device, pipelines->cache, NULL);
    if (pipelines->layout != VK_NULL_HANDLE)
        vkDestroyPipelineLayout(device, pipelines->layout, NULL);
    if (pipelines->set_layout != VK_NULL_HANDLE)
        vkDestroyDescriptorSetLayout(device, pipelines->set_layout, NULL);
    memset(pipelines, 0, sizeof(*pipelines));
}
