"""Stable codes and user-facing messages for answers that end in `error`.

Provider failures keep the provider layer's codes (worker/llm/base.py CODES); the worker adds its
own. The message is what the chat shows under the partial answer, never the upstream text (which
may carry request details); the upstream code goes to the logs. A moderation refusal's message is in
Chinese and English, since it may be the provider refusing the user's own words; the web app shows
every code in the reader's language (web/src/i18n).
"""

from __future__ import annotations

USER_MESSAGES = {
    "InvalidApiKey": "The AI service is not configured correctly. Please contact support.",
    "AccessDenied": "The AI service refused this model for our account. Please contact support.",
    "ModelNotFound": "The model chosen for this role is not available.",
    "InvalidRequest": "The AI service could not process this request.",
    "InputTooLong": "The conversation is too long for this model; please start a new chat.",
    "ImageUnreachable": (
        "AI 服务无法下载本对话中的图片，请联系客服。"
        " / The AI service could not download an image of this conversation. Please contact support."
    ),
    "ContentFiltered": (
        "内容安全审核未通过，本轮问答已从后续对话中移除。"
        " / Content moderation refused this turn; it is left out of the rest of the conversation."
    ),
    "QuotaExhausted": "The AI service quota is used up. Please try again later.",
    "RateLimited": "The AI service is busy. Please try again in a moment.",
    "ServerError": "The AI service had a problem. Please try again.",
    "ServiceUnavailable": "The AI service is temporarily unavailable. Please try again.",
    "Timeout": "The AI service took too long to answer. Please try again.",
    "ConnectionError": "The AI service could not be reached. Please try again.",
    "IncompleteStream": "The answer was cut off. Please try again.",
    # the worker's own
    "DocumentTooLong": (
        "文档内容超出了该模型的上下文长度，请换用上下文更长的模型或拆分文档。"
        " / The document is longer than this model's context window; pick a model with a longer one or split it."
    ),
    "DocumentUnreadable": "无法读取文档中的文字。/ The document's text could not be read.",
    "DocumentTooComplex": (
        "文档页数过多或内容过于繁重，无法在限定时间内读取，请拆分文档或另存为文本文件。"
        " / The document has too many pages or is too heavy to read in time; split it or save its text as a .txt file."
    ),
    "DocumentUnsupported": (
        "这是旧版（97-2003）Office 文件或设有密码的文件，无法读取：请去掉密码"
        "（Word、Excel 或 PowerPoint 文件另存为 .docx、.xlsx 或 .pptx）后重新上传。"
        " / This is an old (97-2003) Office file or a password-protected file, which cannot be read:"
        " save it without a password (in Word, Excel or PowerPoint as .docx, .xlsx or .pptx) and attach it again."
    ),
    "AttachmentUnavailable": "附件无法读取，请重新上传。/ An attachment could not be read; please upload it again.",
    # the plan: the chat's model or persona, or its thinking, changed after the question was sent
    "ModelNotAllowed": (
        "你的套餐不包含本对话现在使用的模型，请换一个模型后重新提问。"
        " / Your plan does not include the model this chat now uses; pick another and ask again."
    ),
    "FeatureNotAllowed": (
        "你的套餐不包含本对话现在开启的功能（深度思考或联网搜索），请关闭后重新提问。"
        " / Your plan does not include what this chat now turns on (deep thinking or web search);"
        " turn it off and ask again."
    ),
    "VisionModelNotAllowed": (
        "你的套餐不包含能识别图片的模型，请去掉图片后重新提问。"
        " / Your plan includes no model that reads images; ask again without them."
    ),
    "AccountDisabled": (
        "管理员已停用此账号：可以登录和导出数据，但不能发送消息。"
        " / An administrator disabled this account: it can sign in and export its data but not send messages."
    ),
    "TurnTimeout": "The answer took too long and was stopped.",
    "InterruptedAnswer": "The answer was interrupted. Please try again.",
    "WorkerError": "Something went wrong while answering. Please try again.",
}


def user_message(code: str) -> str:
    return USER_MESSAGES.get(code, USER_MESSAGES["WorkerError"])


class AttachmentError(Exception):
    """A turn that cannot be answered because of an attachment; `code` is the row's error_code."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
